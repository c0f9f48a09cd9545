//! The built-in corpus's lexicon: a few hundred English words by category, most common first.
//!
//! Within a category, word `i` (0-based) has weight `1 / (i + 2)^ZIPF`, a gentle Zipf law, so
//! frequent words are frequent but rare ones still appear often enough to be learned.
//! Inflected forms follow regular English rules; `base:form` overrides an irregular one.

const ZIPF: f64 = 0.5;

pub const NOUNS: &str =
    "dog cat man:men woman:women child:children bird horse king queen farmer teacher doctor \
    student girl boy friend house tree river city garden window door table book letter song \
    story ship boat car road bridge hill mountain forest field village castle tower lamp key box \
    apple bread cake cup stone flower leaf:leaves wolf:wolves fox mouse:mice sheep:sheep fish:fish \
    rabbit bear lion owl duck goat cow baker sailor soldier painter singer writer judge guard \
    nurse clock coin map ring rope wall chair bed shoe hat coat bell candle mirror basket wheel \
    egg uncle artist engine ocean island orange elephant officer umbrella \
    kettle blanket pencil lake valley meadow cloud star foot:feet goose:geese knife:knives";

pub const ADJECTIVES: &str = "old young small big little tall happy quiet red green blue brown \
    white black dark bright cold warm wild gentle clever brave lazy busy angry hungry sleepy \
    proud kind strange tiny huge noisy silent sharp soft heavy empty broken golden wooden rusty \
    dusty muddy shiny lonely careful curious eager ancient early open hidden famous";

pub const TRANSITIVE_VERBS: &str = "see like find love watch help follow carry build paint hold \
    open close push pull take bring want need know remember visit call chase catch feed wash fix \
    move lift drop hide keep meet miss greet praise thank ask answer guard count draw read write \
    throw have:has";

pub const INTRANSITIVE_VERBS: &str = "sleep run walk sing dance laugh cry wait rest smile swim \
    jump fall work play listen shout whisper travel arrive leave sit stand wander grow dream \
    go:goes fly hurry sneeze";

pub const ADVERBS: &str = "quickly slowly quietly loudly happily sadly carefully often sometimes \
    always never again today yesterday there here together alone late soon badly well gently \
    suddenly";

pub const PREPOSITIONS: &str = "in on under near behind beside above below with without into \
    across through over around after before from";

pub const NAMES: &str = "Anna Tom Mary John Lucy Peter Emma Jack Sophie David Clara Oliver Maria \
    Paul Alice Henry Rose Oscar Ivy Max";

pub const MODALS: &str = "can will must may should would could might";

pub const CONJUNCTIONS: &str = "and but so while because";

/// Determiners that go with a singular noun. `a`/`an` are handled by the grammar (they
/// constrain the next word's first letter).
pub const SINGULAR_DETERMINERS: &str = "the this that every each one my his her our their no";

pub const PLURAL_DETERMINERS: &str =
    "the these those some many two three few all my his her our their no several";

pub const SUBJECT_PRONOUNS_SINGULAR: &str = "he she it";
pub const SUBJECT_PRONOUNS_PLURAL: &str = "they we";
pub const OBJECT_PRONOUNS: &str = "him her them us it me";

/// A weighted word list (weights sum to 1).
pub type Words = Vec<(String, f64)>;

/// Which form of an entry to use.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Base,
    /// Noun plural or verb third-person singular: same spelling rules.
    Inflected,
}

/// The words of `list` in `form`, Zipf-weighted and normalized.
pub fn words(list: &str, form: Form) -> Words {
    let entries: Vec<String> = list
        .split_whitespace()
        .map(|entry| {
            let (base, irregular) = match entry.split_once(':') {
                Some((b, f)) => (b, Some(f)),
                None => (entry, None),
            };
            match (form, irregular) {
                (Form::Base, _) => base.to_string(),
                (Form::Inflected, Some(f)) => f.to_string(),
                (Form::Inflected, None) => inflect(base),
            }
        })
        .collect();
    let weights: Vec<f64> = (0..entries.len())
        .map(|i| 1.0 / ((i + 2) as f64).powf(ZIPF))
        .collect();
    let total: f64 = weights.iter().sum();
    entries
        .into_iter()
        .zip(weights)
        .map(|(w, p)| (w, p / total))
        .collect()
}

/// English `-s` / `-es` / `-ies` inflection.
fn inflect(base: &str) -> String {
    let consonant_y = base.ends_with('y')
        && base
            .chars()
            .rev()
            .nth(1)
            .is_some_and(|c| !"aeiou".contains(c));
    if consonant_y {
        format!("{}ies", &base[..base.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|e| base.ends_with(e))
    {
        format!("{base}es")
    } else {
        format!("{base}s")
    }
}

/// Which words may follow `a` / `an`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Initial {
    Any,
    Consonant,
    Vowel,
}

/// Keep the words allowed by `initial`, renormalized.
pub fn filter(words: &Words, initial: Initial) -> Words {
    let keep = |w: &str| {
        let vowel = w.starts_with(['a', 'e', 'i', 'o', 'u']);
        match initial {
            Initial::Any => true,
            Initial::Consonant => !vowel,
            Initial::Vowel => vowel,
        }
    };
    let kept: Words = words.iter().filter(|(w, _)| keep(w)).cloned().collect();
    let total: f64 = kept.iter().map(|(_, p)| p).sum();
    kept.into_iter().map(|(w, p)| (w, p / total)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflection_rules_and_irregulars() {
        assert_eq!(inflect("city"), "cities");
        assert_eq!(inflect("day"), "days");
        assert_eq!(inflect("box"), "boxes");
        assert_eq!(inflect("watch"), "watches");
        assert_eq!(inflect("dog"), "dogs");
        let plurals: Vec<String> = words(NOUNS, Form::Inflected)
            .into_iter()
            .map(|w| w.0)
            .collect();
        for expected in ["dogs", "boxes", "mice", "sheep", "leaves", "feet"] {
            assert!(plurals.contains(&expected.to_string()), "{expected}");
        }
        let verbs: Vec<String> = words(TRANSITIVE_VERBS, Form::Inflected)
            .into_iter()
            .map(|w| w.0)
            .collect();
        for expected in ["watches", "carries", "fixes", "misses", "has", "sees"] {
            assert!(verbs.contains(&expected.to_string()), "{expected}");
        }
    }

    #[test]
    fn weights_are_normalized_and_decreasing() {
        let w = words(ADJECTIVES, Form::Base);
        let total: f64 = w.iter().map(|x| x.1).sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert!(w[0].1 > w[w.len() - 1].1);
        let v = filter(&w, Initial::Vowel);
        assert!(v
            .iter()
            .all(|(s, _)| s.starts_with(['a', 'e', 'i', 'o', 'u'])));
        assert!((v.iter().map(|x| x.1).sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn lexicon_has_a_few_hundred_words() {
        let n: usize = [
            NOUNS,
            ADJECTIVES,
            TRANSITIVE_VERBS,
            INTRANSITIVE_VERBS,
            ADVERBS,
            PREPOSITIONS,
            NAMES,
            MODALS,
            CONJUNCTIONS,
        ]
        .iter()
        .map(|l| l.split_whitespace().count())
        .sum();
        assert!((250..=500).contains(&n), "{n}");
    }
}
