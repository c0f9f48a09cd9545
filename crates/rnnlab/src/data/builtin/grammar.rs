//! The English-like grammar of the built-in corpus, compiled into a [`StringAutomaton`].
//!
//! States follow a simple clause: subject noun phrase → verb (agreeing in number with the
//! subject, or a modal + base form) → object noun phrase or an intransitive ending →
//! prepositional phrases / adverbs → end of sentence, or a comma + conjunction and a new clause.
//! A subject may carry a prepositional phrase ("the dogs near the old tree sleep"), so agreement
//! reaches across a few words. `a`/`an` agree with the next word's first letter; `the`, `my`,
//! `her`, `sheep`, `leaves` … are ambiguous, so the hidden state is not a function of the text.
//!
//! A phrase-final word chooses its own suffix: `" "` (the sentence goes on), `". "` or `".\n"`
//! (the sentence ends; the next one starts capitalized) or `", "` (a conjunction follows).
use super::automaton::StringAutomaton;
use super::lexicon::{self, filter, Initial, Words};
use std::collections::HashMap;

/// Share of sentence ends that also end the line.
const NEWLINE_SHARE: f64 = 0.2;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Number {
    Singular,
    Plural,
}

/// What a noun phrase is part of; decides where its noun leads.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Role {
    Subject,
    /// Inside a prepositional phrase attached to a subject of this number.
    SubjectModifier(Number),
    Object,
    Adjunct,
}

/// Where a word leads.
#[derive(Clone, Copy)]
enum Next {
    Go(usize),
    /// A word that may end the phrase: continue to `cont`, end the sentence with probability
    /// `end`, or take a comma and a conjunction with probability `comma`.
    PhraseEnd {
        cont: usize,
        end: f64,
        comma: f64,
    },
}

struct Lexicon {
    nouns: [Words; 2],
    adjectives: Words,
    verbs_t: [Words; 2],
    verbs_i: [Words; 2],
    verbs_t_base: Words,
    verbs_i_base: Words,
    adverbs: Words,
    prepositions: Words,
    names: Words,
    modals: Words,
    conjunctions: Words,
    determiners: [Words; 2],
    subject_pronouns: [Words; 2],
    object_pronouns: Words,
}

impl Lexicon {
    fn new() -> Lexicon {
        use lexicon::*;
        Lexicon {
            nouns: [words(NOUNS, Form::Base), words(NOUNS, Form::Inflected)],
            adjectives: words(ADJECTIVES, Form::Base),
            // singular subjects take the inflected (-s) verb form
            verbs_t: [
                words(TRANSITIVE_VERBS, Form::Inflected),
                words(TRANSITIVE_VERBS, Form::Base),
            ],
            verbs_i: [
                words(INTRANSITIVE_VERBS, Form::Inflected),
                words(INTRANSITIVE_VERBS, Form::Base),
            ],
            verbs_t_base: words(TRANSITIVE_VERBS, Form::Base),
            verbs_i_base: words(INTRANSITIVE_VERBS, Form::Base),
            adverbs: words(ADVERBS, Form::Base),
            prepositions: words(PREPOSITIONS, Form::Base),
            names: words(NAMES, Form::Base),
            modals: words(MODALS, Form::Base),
            conjunctions: words(CONJUNCTIONS, Form::Base),
            determiners: [
                words(SINGULAR_DETERMINERS, Form::Base),
                words(PLURAL_DETERMINERS, Form::Base),
            ],
            subject_pronouns: [
                words(SUBJECT_PRONOUNS_SINGULAR, Form::Base),
                words(SUBJECT_PRONOUNS_PLURAL, Form::Base),
            ],
            object_pronouns: words(OBJECT_PRONOUNS, Form::Base),
        }
    }
}

fn literal(word: &str) -> Words {
    vec![(word.to_string(), 1.0)]
}

fn idx(n: Number) -> usize {
    match n {
        Number::Singular => 0,
        Number::Plural => 1,
    }
}

struct Builder {
    lex: Lexicon,
    names: Vec<String>,
    capitalized: Vec<bool>,
    by_key: HashMap<String, usize>,
    /// (from, text, to, weight); weights are normalized per state at the end.
    entries: Vec<(usize, String, usize, f64)>,
    start: usize,
    conjunction: usize,
}

impl Builder {
    fn state(&mut self, key: String, capitalized: bool) -> (usize, bool) {
        if let Some(&id) = self.by_key.get(&key) {
            return (id, false);
        }
        let id = self.names.len();
        self.names.push(key.clone());
        self.capitalized.push(capitalized);
        self.by_key.insert(key, id);
        (id, true)
    }

    fn emit(&mut self, from: usize, words: &Words, weight: f64, next: Next) {
        let suffixes: Vec<(&str, usize, f64)> = match next {
            Next::Go(to) => vec![(" ", to, 1.0)],
            Next::PhraseEnd { cont, end, comma } => vec![
                (" ", cont, 1.0 - end - comma),
                (". ", self.start, end * (1.0 - NEWLINE_SHARE)),
                (".\n", self.start, end * NEWLINE_SHARE),
                (", ", self.conjunction, comma),
            ],
        };
        for (word, p) in words {
            let word = if self.capitalized[from] {
                capitalize(word)
            } else {
                word.clone()
            };
            for &(suffix, to, q) in &suffixes {
                if q > 0.0 {
                    self.entries
                        .push((from, format!("{word}{suffix}"), to, weight * p * q));
                }
            }
        }
    }

    fn fixed(&self, key: &str) -> usize {
        self.by_key[key]
    }

    fn verb_phrase(&self, n: Number) -> usize {
        self.fixed(match n {
            Number::Singular => "verb/sg",
            Number::Plural => "verb/pl",
        })
    }

    /// Where the head noun of a phrase with `role` (and number `n`) leads, with weights.
    fn after_noun(&mut self, role: Role, n: Number) -> Vec<(f64, Next)> {
        match role {
            Role::Subject => {
                let modifier = self.subject_modifier(n);
                vec![
                    (0.85, Next::Go(self.verb_phrase(n))),
                    (0.15, Next::Go(modifier)),
                ]
            }
            Role::SubjectModifier(subject) => vec![(1.0, Next::Go(self.verb_phrase(subject)))],
            Role::Object => vec![(
                1.0,
                Next::PhraseEnd {
                    cont: self.fixed("after-object"),
                    end: 0.55,
                    comma: 0.1,
                },
            )],
            Role::Adjunct => vec![(
                1.0,
                Next::PhraseEnd {
                    cont: self.fixed("after-pp"),
                    end: 0.7,
                    comma: 0.1,
                },
            )],
        }
    }

    fn emit_noun(&mut self, from: usize, nouns: &Words, weight: f64, role: Role, n: Number) {
        for (w, next) in self.after_noun(role, n) {
            self.emit(from, nouns, weight * w, next);
        }
    }

    /// After a determiner: adjective(s), then the noun. `initial` is `a`/`an`'s constraint.
    fn modifier_state(&mut self, role: Role, n: Number, initial: Initial) -> usize {
        let (id, new) = self.state(format!("np-mod/{role:?}/{n:?}/{initial:?}"), false);
        if new {
            let adjectives = filter(&self.lex.adjectives, initial);
            let nouns = filter(&self.lex.nouns[idx(n)], initial);
            let after_adjective = self.noun_state(role, n);
            self.emit(id, &adjectives, 0.4, Next::Go(after_adjective));
            self.emit_noun(id, &nouns, 0.6, role, n);
        }
        id
    }

    /// After an adjective: maybe another adjective, then the noun.
    fn noun_state(&mut self, role: Role, n: Number) -> usize {
        let (id, new) = self.state(format!("np-noun/{role:?}/{n:?}"), false);
        if new {
            let adjectives = self.lex.adjectives.clone();
            let nouns = self.lex.nouns[idx(n)].clone();
            self.emit(id, &adjectives, 0.12, Next::Go(id));
            self.emit_noun(id, &nouns, 0.88, role, n);
        }
        id
    }

    /// The start of a noun phrase: determiner (with `a`/`an`), name or pronoun.
    fn noun_phrase_start(&mut self, from: usize, role: Role) {
        use Number::*;
        let dets = self.lex.determiners.clone();
        let target = self.modifier_state(role, Singular, Initial::Any);
        self.emit(from, &dets[0], 0.40, Next::Go(target));
        let target = self.modifier_state(role, Singular, Initial::Consonant);
        self.emit(from, &literal("a"), 0.12, Next::Go(target));
        let target = self.modifier_state(role, Singular, Initial::Vowel);
        self.emit(from, &literal("an"), 0.03, Next::Go(target));
        let target = self.modifier_state(role, Plural, Initial::Any);
        self.emit(from, &dets[1], 0.25, Next::Go(target));
        let names = self.lex.names.clone();
        self.emit_noun(from, &names, 0.1, role, Singular);
        if role == Role::Subject {
            let pronouns = self.lex.subject_pronouns.clone();
            let (sg, pl) = (self.verb_phrase(Singular), self.verb_phrase(Plural));
            self.emit(from, &pronouns[0], 0.06, Next::Go(sg));
            self.emit(from, &pronouns[1], 0.04, Next::Go(pl));
        } else {
            let pronouns = self.lex.object_pronouns.clone();
            self.emit_noun(from, &pronouns, 0.1, role, Singular);
        }
    }

    /// "the dogs near the old tree …": a preposition, then a noun phrase, then the verb.
    fn subject_modifier(&mut self, n: Number) -> usize {
        let (id, new) = self.state(format!("subject-pp/{n:?}"), false);
        if new {
            let (np, _) = self.state(format!("subject-pp-np/{n:?}"), false);
            let preps = self.lex.prepositions.clone();
            self.emit(id, &preps, 1.0, Next::Go(np));
            self.noun_phrase_start(np, Role::SubjectModifier(n));
        }
        id
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The built-in corpus's grammar as a string automaton (start state: sentence start).
pub fn english() -> StringAutomaton {
    let mut b = Builder {
        lex: Lexicon::new(),
        names: Vec::new(),
        capitalized: Vec::new(),
        by_key: HashMap::new(),
        entries: Vec::new(),
        start: 0,
        conjunction: 0,
    };
    let fixed = [
        ("sentence", true),
        ("clause", false),
        ("conjunction", false),
        ("verb/sg", false),
        ("verb/pl", false),
        ("verb/base", false),
        ("object", false),
        ("after-verb", false),
        ("after-object", false),
        ("after-pp", false),
        ("after-adverb", false),
        ("pp", false),
    ];
    for (key, cap) in fixed {
        b.state(key.to_string(), cap);
    }
    b.start = b.fixed("sentence");
    b.conjunction = b.fixed("conjunction");
    let [sentence, clause, conjunction, verb_base, object, after_verb, after_object, after_pp, after_adverb, pp] =
        [
            "sentence",
            "clause",
            "conjunction",
            "verb/base",
            "object",
            "after-verb",
            "after-object",
            "after-pp",
            "after-adverb",
            "pp",
        ]
        .map(|k| b.fixed(k));

    b.noun_phrase_start(sentence, Role::Subject);
    b.noun_phrase_start(clause, Role::Subject);
    let conjunctions = b.lex.conjunctions.clone();
    b.emit(conjunction, &conjunctions, 1.0, Next::Go(clause));

    let after_intransitive = Next::PhraseEnd {
        cont: after_verb,
        end: 0.45,
        comma: 0.1,
    };
    for n in [Number::Singular, Number::Plural] {
        let from = b.verb_phrase(n);
        let (vt, vi, modals) = (
            b.lex.verbs_t[idx(n)].clone(),
            b.lex.verbs_i[idx(n)].clone(),
            b.lex.modals.clone(),
        );
        b.emit(from, &vt, 0.45, Next::Go(object));
        b.emit(from, &vi, 0.35, after_intransitive);
        b.emit(from, &modals, 0.2, Next::Go(verb_base));
    }
    let (vt, vi) = (b.lex.verbs_t_base.clone(), b.lex.verbs_i_base.clone());
    b.emit(verb_base, &vt, 0.55, Next::Go(object));
    b.emit(verb_base, &vi, 0.45, after_intransitive);
    b.noun_phrase_start(object, Role::Object);
    b.noun_phrase_start(pp, Role::Adjunct);

    let adverb_end = Next::PhraseEnd {
        cont: after_adverb,
        end: 0.75,
        comma: 0.1,
    };
    let (adverbs, preps) = (b.lex.adverbs.clone(), b.lex.prepositions.clone());
    b.emit(after_verb, &adverbs, 0.5, adverb_end);
    b.emit(after_verb, &preps, 0.5, Next::Go(pp));
    b.emit(after_object, &adverbs, 0.4, adverb_end);
    b.emit(after_object, &preps, 0.6, Next::Go(pp));
    b.emit(after_pp, &adverbs, 0.6, adverb_end);
    b.emit(after_pp, &preps, 0.4, Next::Go(pp));
    b.emit(after_adverb, &preps, 1.0, Next::Go(pp));

    // normalize weights per state into probabilities
    let mut totals = vec![0.0; b.names.len()];
    for (from, _, _, w) in &b.entries {
        totals[*from] += w;
    }
    let entries = b
        .entries
        .into_iter()
        .map(|(from, text, to, w)| (from, text, to, w / totals[from]));
    StringAutomaton::new(b.names, b.start, entries).expect("the built-in grammar is well formed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn sample_text(n_words: usize) -> String {
        let g = english();
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
        let mut state = g.start();
        let mut text = String::new();
        for _ in 0..n_words {
            let e = g.sample(state, &mut rng);
            text.push_str(&e.text);
            state = e.to;
        }
        text
    }

    #[test]
    fn every_state_is_reachable_and_has_emissions() {
        let g = english();
        let mut seen = vec![false; g.num_states()];
        let mut stack = vec![g.start()];
        while let Some(s) = stack.pop() {
            if std::mem::replace(&mut seen[s], true) {
                continue;
            }
            assert!(!g.emissions(s).is_empty(), "{}", g.state_name(s));
            stack.extend(g.emissions(s).iter().map(|e| e.to));
        }
        assert!(seen.iter().all(|&x| x), "unreachable states");
    }

    #[test]
    fn sentences_look_english() {
        let text = sample_text(20_000);
        // sentences start capitalized
        for sentence in text.split(". ").skip(1).take(50) {
            let first = sentence.trim_start().chars().next().unwrap();
            assert!(first.is_uppercase(), "{sentence:?}");
        }
        assert!(text.contains(".\n"));
        assert!(text.contains(", and "));
        // agreement: a singular determiner + noun is never directly followed by a plural verb
        // (mid-sentence "dog see" is fine: "the dogs near the dog see …")
        for bad in [
            "The dog see ",
            "The dogs sees ",
            "He see ",
            "They sees ",
            "He can sees ",
        ] {
            assert!(!text.contains(bad), "agreement broken: {bad:?}");
        }
        // every sentence-initial pronoun is followed by a verb of its number (or a modal)
        let lex = Lexicon::new();
        let forms = |n: usize| -> Vec<String> {
            [&lex.verbs_t[n], &lex.verbs_i[n], &lex.modals]
                .iter()
                .flat_map(|ws| ws.iter().map(|w| w.0.clone()))
                .collect()
        };
        let (singular, plural) = (forms(0), forms(1));
        let mut checked = 0;
        for sentence in text.split(['.', ',']) {
            let mut words = sentence.split_whitespace();
            let (Some(subject), Some(verb)) = (words.next(), words.next()) else {
                continue;
            };
            let expected = match subject {
                "He" | "She" | "It" | "he" | "she" => &singular,
                "They" | "We" | "they" | "we" => &plural,
                _ => continue,
            };
            assert!(expected.iter().any(|v| v == verb), "{subject} {verb}");
            checked += 1;
        }
        assert!(checked > 20, "{checked}");
        // a/an
        assert!(!text.contains(" a apple") && !text.contains(" an dog"));
    }
}
