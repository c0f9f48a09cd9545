//! Optimizer and plateau steps compared with `torch.optim` (2.15, CPU, single-tensor path).
//! The constants below are the verbatim output of `bench/optim_reference.py`.

#![allow(clippy::excessive_precision, clippy::unreadable_literal)]

use super::schedule::{PlateauConfig, ReduceOnPlateau, ThresholdMode};
use super::*;

// sgd_plain: SGD(lr=0.1, {})
const SGD_PLAIN_0: [f32; 5] = [
    0.574999988079071,
    -1.25,
    1.9249999523162842,
    0.02500000037252903,
    -0.3500000238418579,
];
const SGD_PLAIN_1: [f32; 5] = [
    0.550000011920929,
    -1.225000023841858,
    1.9124999046325684,
    0.0625,
    -0.3500000238418579,
];
const SGD_PLAIN_2: [f32; 5] = [
    0.550000011920929,
    -1.3000000715255737,
    1.9374998807907104,
    0.01249999925494194,
    -0.30000001192092896,
];
const SGD_PLAIN_3: [f32; 5] = [
    0.6500000357627869,
    -1.350000023841858,
    2.0874998569488525,
    0.01249999925494194,
    -0.45000001788139343,
];
// sgd_momentum_wd: SGD(lr=0.1, {'momentum': 0.9, 'weight_decay': 0.01})
const SGD_MOMENTUM_WD_0: [f32; 5] = [
    0.5745000243186951,
    -1.2487499713897705,
    1.9229999780654907,
    0.02500000037252903,
    -0.349700003862381,
];
const SGD_MOMENTUM_WD_1: [f32; 5] = [
    0.5827378034591675,
    -1.2225631475448608,
    1.8748884201049805,
    0.0737375020980835,
    -0.3718901574611664,
];
const SGD_MOMENTUM_WD_2: [f32; 5] = [
    0.596983015537262,
    -1.249204158782959,
    1.8114128112792969,
    0.11139126121997833,
    -0.36146053671836853,
];
const SGD_MOMENTUM_WD_3: [f32; 5] = [
    0.7214304208755493,
    -1.344659686088562,
    1.843533992767334,
    0.17894524335861206,
    -0.49196431040763855,
];
// sgd_nesterov: SGD(lr=0.1, {'momentum': 0.9, 'nesterov': True})
const SGD_NESTEROV_0: [f32; 5] = [
    0.6424999833106995,
    -1.25,
    1.8574999570846558,
    0.04749999940395355,
    -0.39500001072883606,
];
const SGD_NESTEROV_1: [f32; 5] = [
    0.625374972820282,
    -1.2024999856948853,
    1.803375005722046,
    0.1288750022649765,
    -0.4152500033378601,
];
const SGD_NESTEROV_2: [f32; 5] = [
    0.639549970626831,
    -1.3044999837875366,
    1.7759499549865723,
    0.11285000294446945,
    -0.35670000314712524,
];
const SGD_NESTEROV_3: [f32; 5] = [
    0.8550649881362915,
    -1.448099970817566,
    1.9665849208831787,
    0.17400500178337097,
    -0.6263099908828735,
];
// sgd_dampening: SGD(lr=0.1, {'momentum': 0.9, 'dampening': 0.5})
const SGD_DAMPENING_0: [f32; 5] = [
    0.574999988079071,
    -1.25,
    1.9249999523162842,
    0.02500000037252903,
    -0.3500000238418579,
];
const SGD_DAMPENING_1: [f32; 5] = [
    0.5962499976158142,
    -1.2374999523162842,
    1.8849999904632568,
    0.055000003427267075,
    -0.3725000321865082,
];
const SGD_DAMPENING_2: [f32; 5] = [
    0.6344999670982361,
    -1.2524999380111694,
    1.8255000114440918,
    0.08400000631809235,
    -0.3880000412464142,
];
const SGD_DAMPENING_3: [f32; 5] = [
    0.7533499598503113,
    -1.3044999837875366,
    1.7934000492095947,
    0.13620001077651978,
    -0.49090003967285156,
];
// adam_default: Adam(lr=0.01, {})
const ADAM_DEFAULT_0: [f32; 5] = [
    0.5099999904632568,
    -1.25,
    1.9900000095367432,
    0.009999999776482582,
    -0.3100000023841858,
];
const ADAM_DEFAULT_1: [f32; 5] = [
    0.5107225775718689,
    -1.2462793588638306,
    1.9856446981430054,
    0.01458890549838543,
    -0.31335029006004333,
];
const ADAM_DEFAULT_2: [f32; 5] = [
    0.511839747428894,
    -1.2484058141708374,
    1.9811530113220215,
    0.017167944461107254,
    -0.31249162554740906,
];
const ADAM_DEFAULT_3: [f32; 5] = [
    0.5190832614898682,
    -1.2548707723617554,
    1.9835015535354614,
    0.021393125876784325,
    -0.3199877440929413,
];
// adam_l2: Adam(lr=0.01, {'weight_decay': 0.1})
const ADAM_L2_0: [f32; 5] = [
    0.5099999904632568,
    -1.2400000095367432,
    1.9900000095367432,
    0.009999999776482582,
    -0.3100000023841858,
];
const ADAM_L2_1: [f32; 5] = [
    0.5103300213813782,
    -1.2356939315795898,
    1.98538076877594,
    0.014589706435799599,
    -0.3130980134010315,
];
const ADAM_L2_2: [f32; 5] = [
    0.5104737877845764,
    -1.2354333400726318,
    1.9785606861114502,
    0.017152681946754456,
    -0.3114912807941437,
];
const ADAM_L2_3: [f32; 5] = [
    0.5159134268760681,
    -1.236641526222229,
    1.974077582359314,
    0.0213302094489336,
    -0.317915141582489,
];
// adamw: AdamW(lr=0.01, {'betas': (0.8, 0.99), 'eps': 1e-06, 'weight_decay': 0.1})
const ADAMW_0: [f32; 5] = [
    0.5094999670982361,
    -1.2487499713897705,
    1.9880000352859497,
    0.009999959729611874,
    -0.30970001220703125,
];
const ADAMW_1: [f32; 5] = [
    0.5096814632415771,
    -1.2442070245742798,
    1.982773780822754,
    0.014706078916788101,
    -0.31269577145576477,
];
const ADAMW_2: [f32; 5] = [
    0.5098040103912354,
    -1.2457095384597778,
    1.9770963191986084,
    0.016662323847413063,
    -0.31057611107826233,
];
const ADAMW_3: [f32; 5] = [
    0.5162193179130554,
    -1.250884771347046,
    1.978062629699707,
    0.0196464192122221,
    -0.31789878010749817,
];
// rmsprop_default: RMSprop(lr=0.01, {})
const RMSPROP_DEFAULT_0: [f32; 5] = [
    0.5999999642372131,
    -1.25,
    1.899999976158142,
    0.09999995678663254,
    -0.3999999761581421,
];
const RMSPROP_DEFAULT_1: [f32; 5] = [
    0.5721684694290161,
    -1.2000000476837158,
    1.8841170072555542,
    0.14745785295963287,
    -0.3999999761581421,
];
const RMSPROP_DEFAULT_2: [f32; 5] = [
    0.5721684694290161,
    -1.283333420753479,
    1.914530634880066,
    0.0937945619225502,
    -0.3289348781108856,
];
const RMSPROP_DEFAULT_3: [f32; 5] = [
    0.6701879501342773,
    -1.3371124267578125,
    2.0497028827667236,
    0.0937945619225502,
    -0.4751407206058502,
];
// rmsprop_centered_momentum: RMSprop(lr=0.01, {'centered': True, 'momentum': 0.5, 'weight_decay': 0.01})
const RMSPROP_CENTERED_MOMENTUM_0: [f32; 5] = [
    0.6005037426948547,
    -1.1494970321655273,
    1.8994961977005005,
    0.10050375014543533,
    -0.4005037546157837,
];
const RMSPROP_CENTERED_MOMENTUM_1: [f32; 5] = [
    0.5974307656288147,
    -1.0741219520568848,
    1.8576711416244507,
    0.1734640896320343,
    -0.425222784280777,
];
const RMSPROP_CENTERED_MOMENTUM_2: [f32; 5] = [
    0.5936886072158813,
    -1.081132173538208,
    1.8435052633285522,
    0.19250960648059845,
    -0.37836986780166626,
];
const RMSPROP_CENTERED_MOMENTUM_3: [f32; 5] = [
    0.6873800754547119,
    -1.139946699142456,
    1.9610304832458496,
    0.21113930642604828,
    -0.47765180468559265,
];
// ReduceLROnPlateau(factor=0.25, patience=0, threshold=0) on [5.0, 4.0, 4.0, 3.5, 3.6, 3.4, 3.4, 3.4]
const PLATEAU_LRS: [f64; 8] = [20.0, 20.0, 5.0, 5.0, 1.25, 1.25, 0.3125, 0.078125];
// ReduceLROnPlateau(factor=0.5, patience=1, threshold=0.1, cooldown=1, min_lr=1) on [10.0, 9.5, 9.2, 8.0, 7.9, 7.8, 7.7, 7.6, 7.5, 7.4, 7.3, 7.2]
const PLATEAU_PATIENT_LRS: [f64; 12] = [
    20.0, 20.0, 10.0, 10.0, 10.0, 5.0, 5.0, 5.0, 2.5, 2.5, 2.5, 1.25,
];

const P0: [f32; 5] = [0.5, -1.25, 2.0, 0.0, -0.3];
const LR_FACTORS: [f32; 4] = [1.0, 0.5, 1.0, 2.0];

fn grad(step: usize, i: usize) -> f32 {
    ((i * 3 + step * 5) % 7) as f32 / 4.0 - 0.75
}

/// Runs four steps from `P0` and checks each against PyTorch to a few ulps (the order of
/// float operations inside torch's kernels may differ by a rounding).
fn check(mut opt: AnyOptimizer, lr: f32, want: [[f32; 5]; 4]) {
    let mut p = ParamStore::new();
    p.add("w", &[5]);
    p.values.copy_from_slice(&P0);
    for (step, (factor, want)) in LR_FACTORS.iter().zip(want).enumerate() {
        for i in 0..5 {
            p.grads[i] = grad(step, i);
        }
        opt.step(&mut p, lr * factor).unwrap();
        for (i, (&got, &w)) in p.values.iter().zip(&want).enumerate() {
            let tol = 4.0 * f32::EPSILON * w.abs().max(1e-2);
            assert!(
                (got - w).abs() <= tol,
                "step {step} element {i}: {got} vs torch {w} (diff {})",
                got - w
            );
        }
    }
    assert_eq!(opt.steps_taken(), 4);
}

fn sgd(c: SgdConfig) -> AnyOptimizer {
    AnyOptimizer::new(&OptimizerConfig::Sgd(c)).unwrap()
}

#[test]
fn gradient_helper_matches_the_script() {
    // ((i*3 + step*5) % 7 - 3) / 4 in Python.
    assert_eq!(grad(0, 0), -0.75);
    assert_eq!(grad(0, 3), -0.25);
    assert_eq!(grad(1, 1), -0.5);
}

#[test]
fn sgd_matches_torch() {
    check(
        sgd(SgdConfig::default()),
        0.1,
        [SGD_PLAIN_0, SGD_PLAIN_1, SGD_PLAIN_2, SGD_PLAIN_3],
    );
    let c = SgdConfig {
        momentum: 0.9,
        weight_decay: 0.01,
        ..Default::default()
    };
    check(
        sgd(c),
        0.1,
        [
            SGD_MOMENTUM_WD_0,
            SGD_MOMENTUM_WD_1,
            SGD_MOMENTUM_WD_2,
            SGD_MOMENTUM_WD_3,
        ],
    );
    let c = SgdConfig {
        momentum: 0.9,
        nesterov: true,
        ..Default::default()
    };
    check(
        sgd(c),
        0.1,
        [
            SGD_NESTEROV_0,
            SGD_NESTEROV_1,
            SGD_NESTEROV_2,
            SGD_NESTEROV_3,
        ],
    );
    let c = SgdConfig {
        momentum: 0.9,
        dampening: 0.5,
        ..Default::default()
    };
    check(
        sgd(c),
        0.1,
        [
            SGD_DAMPENING_0,
            SGD_DAMPENING_1,
            SGD_DAMPENING_2,
            SGD_DAMPENING_3,
        ],
    );
}

#[test]
fn adam_and_adamw_match_torch() {
    let adam = |c| AnyOptimizer::new(&OptimizerConfig::Adam(c)).unwrap();
    check(
        adam(AdamConfig::default()),
        0.01,
        [
            ADAM_DEFAULT_0,
            ADAM_DEFAULT_1,
            ADAM_DEFAULT_2,
            ADAM_DEFAULT_3,
        ],
    );
    let c = AdamConfig {
        weight_decay: 0.1,
        ..Default::default()
    };
    check(adam(c), 0.01, [ADAM_L2_0, ADAM_L2_1, ADAM_L2_2, ADAM_L2_3]);
    let c = AdamWConfig {
        beta1: 0.8,
        beta2: 0.99,
        eps: 1e-6,
        weight_decay: 0.1,
    };
    let adamw = AnyOptimizer::new(&OptimizerConfig::AdamW(c)).unwrap();
    check(adamw, 0.01, [ADAMW_0, ADAMW_1, ADAMW_2, ADAMW_3]);
}

#[test]
fn rmsprop_matches_torch() {
    let rms = |c| AnyOptimizer::new(&OptimizerConfig::RmsProp(c)).unwrap();
    check(
        rms(RmsPropConfig::default()),
        0.01,
        [
            RMSPROP_DEFAULT_0,
            RMSPROP_DEFAULT_1,
            RMSPROP_DEFAULT_2,
            RMSPROP_DEFAULT_3,
        ],
    );
    let c = RmsPropConfig {
        centered: true,
        momentum: 0.5,
        weight_decay: 0.01,
        ..Default::default()
    };
    check(
        rms(c),
        0.01,
        [
            RMSPROP_CENTERED_MOMENTUM_0,
            RMSPROP_CENTERED_MOMENTUM_1,
            RMSPROP_CENTERED_MOMENTUM_2,
            RMSPROP_CENTERED_MOMENTUM_3,
        ],
    );
}

fn plateau_lrs(config: PlateauConfig, losses: &[f64]) -> Vec<f64> {
    let mut plateau = ReduceOnPlateau::new(config).unwrap();
    losses
        .iter()
        .map(|&l| {
            plateau.observe(l);
            plateau.apply(20.0) as f64
        })
        .collect()
}

#[test]
fn plateau_matches_torch_word_lm_defaults() {
    let losses = [5.0, 4.0, 4.0, 3.5, 3.6, 3.4, 3.4, 3.4];
    assert_eq!(plateau_lrs(PlateauConfig::default(), &losses), PLATEAU_LRS);
}

#[test]
fn plateau_matches_torch_with_patience_cooldown_and_threshold() {
    let config = PlateauConfig {
        factor: 0.5,
        patience: 1,
        threshold: 0.1,
        threshold_mode: ThresholdMode::Rel,
        cooldown: 1,
        min_lr: 1.0,
    };
    let losses = [10.0, 9.5, 9.2, 8.0, 7.9, 7.8, 7.7, 7.6, 7.5, 7.4, 7.3, 7.2];
    assert_eq!(plateau_lrs(config, &losses), PLATEAU_PATIENT_LRS);
}
