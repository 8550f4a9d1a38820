//! Group-sequential designs against published values (Jennison & Turnbull's tables,
//! gsDesign's printed outputs and tests, SeqBounds.jl's README), an independent
//! Gauss–Legendre integration and scipy's multivariate normal (`tests/data/reference/gsd.py`
//! → `gsd.json`), properties, and a seeded Monte Carlo.

use abforge_stats::{Alternative, Boundary, GsdDesign, GsdOptions, gsd_design};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::Value;

fn equal(k: usize) -> Vec<f64> {
    (1..=k).map(|i| i as f64 / k as f64).collect()
}

fn opts(alpha: f64, alternative: Alternative, boundary: Boundary) -> GsdOptions {
    GsdOptions {
        alpha,
        alternative,
        boundary,
    }
}

fn two_sided(boundary: Boundary) -> GsdOptions {
    opts(0.05, Alternative::TwoSided, boundary)
}

fn critical(d: &GsdDesign) -> Vec<f64> {
    d.looks.iter().map(|l| l.critical_value).collect()
}

/// `z_{1−p}`, for the fixed-sample drift `z_{1−α/2} + z_{power}`.
fn z(p: f64) -> f64 {
    // The two quantiles the tests need, from scipy.stats.norm.isf.
    match p {
        0.025 => 1.959963984540054,
        0.1 => 1.2815515655446004,
        0.2 => 0.8416212335729143,
        _ => panic!("no quantile for {p}"),
    }
}

/// Jennison & Turnbull (2000), *Group Sequential Methods with Applications to Clinical
/// Trials*, Table 2.1 (Pocock's `C_P(K, α)`) and Table 2.3 (O'Brien & Fleming's
/// `C_B(K, α)`), two-sided α = 0.01, 0.05, 0.10, K = 1..10 equally spaced looks. The
/// tables have three decimals: tolerance 5e-4 (rounding) + 1e-6.
#[test]
fn jennison_turnbull_tables_2_1_and_2_3() {
    let pocock: [(f64, [f64; 10]); 3] = [
        (
            0.01,
            [
                2.576, 2.772, 2.873, 2.939, 2.986, 3.023, 3.053, 3.078, 3.099, 3.117,
            ],
        ),
        (
            0.05,
            [
                1.960, 2.178, 2.289, 2.361, 2.413, 2.453, 2.485, 2.512, 2.535, 2.555,
            ],
        ),
        (
            0.10,
            [
                1.645, 1.875, 1.992, 2.067, 2.122, 2.164, 2.197, 2.225, 2.249, 2.270,
            ],
        ),
    ];
    let obrien_fleming: [(f64, [f64; 10]); 3] = [
        (
            0.01,
            [
                2.576, 2.580, 2.595, 2.609, 2.621, 2.631, 2.640, 2.648, 2.654, 2.660,
            ],
        ),
        (
            0.05,
            [
                1.960, 1.977, 2.004, 2.024, 2.040, 2.053, 2.063, 2.072, 2.080, 2.087,
            ],
        ),
        (
            0.10,
            [
                1.645, 1.678, 1.710, 1.733, 1.751, 1.765, 1.776, 1.786, 1.794, 1.801,
            ],
        ),
    ];
    for (boundary, table) in [
        (Boundary::POCOCK, pocock),
        (Boundary::OBRIEN_FLEMING, obrien_fleming),
    ] {
        for (alpha, row) in table {
            for (k, want) in (1..=10).zip(row) {
                let d =
                    gsd_design(&equal(k), &opts(alpha, Alternative::TwoSided, boundary)).unwrap();
                // C is the final critical value (t_K = 1) for both shapes.
                let got = d.looks[k - 1].critical_value;
                assert!(
                    (got - want).abs() <= 5e-4 + 1e-6,
                    "{boundary:?} α = {alpha}, K = {k}: {got} vs {want}"
                );
                assert!((d.looks[k - 1].alpha_spent - alpha).abs() < 1e-9);
            }
        }
    }
}

/// gsDesign's printed output for `gsDesign(k = 5, test.type = 1, n.fix = 1)` (defaults:
/// one-sided α = 0.025, β = 0.1, Hwang–Shih–DeCani γ = −4 upper bound), the snapshot
/// `tests/testthat/_snaps/independent-test-gsBoundSummary.md` of keaven/gsDesign: the
/// bounds `Z`, `P(Cross) if delta=0` and `P(Cross) if delta=1` (cumulative, at the drift of
/// 90 % power) to four decimals, and `N/Fixed design N` = `t_k` × inflation factor to two.
#[test]
fn gsdesign_hwang_shih_decani_summary() {
    let o = opts(
        0.025,
        Alternative::Greater,
        Boundary::HwangShihDecani { gamma: -4.0 },
    );
    let d = gsd_design(&equal(5), &o).unwrap();
    let tol = 5e-5 + 1e-7;
    let bounds = [3.2527, 2.9860, 2.6917, 2.3737, 2.0253];
    let null = [0.0006, 0.0018, 0.0047, 0.0110, 0.0250];
    let alt = [0.0370, 0.1883, 0.4530, 0.7229, 0.9000];
    let drift = d.drift_for_power(0.9).unwrap();
    let oc = d.operating_characteristics(drift).unwrap();
    let mut cumulative = 0.0;
    for (k, look) in d.looks.iter().enumerate() {
        cumulative += oc.reject_above[k];
        assert!((look.critical_value - bounds[k]).abs() < tol, "look {k}");
        assert!((look.alpha_spent - null[k]).abs() < tol, "look {k}");
        assert!((cumulative - alt[k]).abs() < tol, "look {k}: {cumulative}");
        assert_eq!(oc.reject_below[k], 0.0);
    }
    let inflation = (drift / (z(0.025) + z(0.1))).powi(2);
    for (t, want) in [
        (0.2, 0.2),
        (0.4, 0.41),
        (0.6, 0.61),
        (0.8, 0.82),
        (1.0, 1.02),
    ] {
        assert!(
            (t * inflation - want).abs() <= 0.005,
            "{t}: {}",
            t * inflation
        );
    }
}

/// (boundary, K, β, inflation factor R, `E{N}` at the drifts `δ·(0, 0.5, 1, 1.5)`, final
/// critical value).
type SizeCase = (Boundary, usize, f64, f64, &'static [f64], Option<f64>);

/// The README of PharmCat/SeqBounds.jl (a Julia implementation) prints `bounds([0.25, 0.5,
/// 0.75, 1.0], 0.05; h = 0.05)`: one-sided α = 0.05, O'Brien–Fleming-like spending, Z =
/// 3.74955, 2.53993, 2.01604, 1.72014 and cumulative spending 8.85754e-5, 0.0055746,
/// 0.0236251, 0.05. Its grid multiplier h = 0.05 is coarse (the README suggests 0.025 "for
/// better precision"): tolerance 1e-4 on the bounds (the largest difference is 3e-5, at
/// look 3), 6 significant digits on the spending.
#[test]
fn seqbounds_jl_readme() {
    let o = opts(0.05, Alternative::Greater, Boundary::LanDemetsObrienFleming);
    let d = gsd_design(&[0.25, 0.5, 0.75, 1.0], &o).unwrap();
    let bounds = [3.74955, 2.53993, 2.01604, 1.72014];
    let spent = [8.85754e-5, 0.0055746, 0.0236251, 0.05];
    for (k, look) in d.looks.iter().enumerate() {
        let got = look.critical_value;
        assert!((got - bounds[k]).abs() < 1e-4, "look {k}: {got}");
        let rel = (look.alpha_spent - spent[k]).abs() / spent[k];
        assert!(rel < 1e-5, "look {k}: {}", look.alpha_spent);
    }
}

/// Maximum sample size (inflation factor R) and expected sample size `E{N}` relative to the
/// fixed design, for the drifts `δ·(0, 0.5, 1, 1.5)`, from Jennison & Turnbull's tables as
/// checked by gsDesign's own tests (`tests/testthat/test-base.R` of keaven/gsDesign,
/// `test.JT.Pocock`, `test.JT.OFss`, `test.JT.Power.symm`, `test.JT.WT`), two-sided α =
/// 0.05, three decimals: tolerance 5e-4 + 1e-6.
#[test]
fn jennison_turnbull_sample_sizes_via_gsdesign_tests() {
    let (pocock, obf) = (Boundary::POCOCK, Boundary::OBRIEN_FLEMING);
    let wt = |delta| Boundary::WangTsiatis { delta };
    let pf = |rho| Boundary::PowerFamily { rho };
    let cases: [SizeCase; 10] = [
        (pocock, 4, 0.2, 1.202, &[1.175, 1.088, 0.805, 0.522], None),
        (pocock, 15, 0.1, 1.305, &[1.264, 1.112, 0.664, 0.354], None),
        (obf, 5, 0.2, 1.028, &[1.021], None),
        (obf, 20, 0.1, 1.045, &[1.034], None),
        (pf(1.0), 3, 0.2, 1.117, &[1.099, 1.034, 0.812, 0.565], None),
        (pf(2.0), 10, 0.2, 1.081, &[1.066, 0.997, 0.762, 0.510], None),
        (pf(3.0), 2, 0.2, 1.010, &[1.007, 0.989, 0.895, 0.707], None),
        (wt(0.1), 9, 0.1, 1.048, &[], Some(2.113)),
        (wt(0.25), 6, 0.2, 1.077, &[], Some(2.154)),
        (wt(0.4), 7, 0.2, 1.159, &[], Some(2.313)),
    ];
    let tol = 5e-4 + 1e-6;
    for (boundary, k, beta, want_r, en, last_bound) in cases {
        let d = gsd_design(&equal(k), &two_sided(boundary)).unwrap();
        // Power counts rejections in the drift's direction only, as in the tables: at
        // K = 15 Pocock the wrong-side crossings are 2e-4, which moves R by 1e-3.
        let drift = d.drift_for_power(1.0 - beta).unwrap();
        let r = (drift / (z(0.025) + z(beta))).powi(2);
        let name = format!("{boundary:?} K = {k}");
        assert!((r - want_r).abs() < tol, "{name}: R = {r}");
        for (x, want) in [0.0, 0.5, 1.0, 1.5].iter().zip(en) {
            let oc = d.operating_characteristics(x * drift).unwrap();
            let got = r * oc.expected_fraction;
            assert!((got - want).abs() < tol, "{name}, θ = {x}δ: E{{N}} = {got}");
        }
        if let Some(b) = last_bound {
            let got = d.looks[k - 1].critical_value;
            assert!((got - b).abs() < tol, "{name}: {got}");
        }
    }
}

/// Repeated testing at the fixed-sample critical value inflates the type I error: gsDesign's
/// `test.Deming.gsProb` (keaven/gsDesign `tests/testthat/test-base.R`, from K. Anderson's
/// 2008 Deming presentation) gives the upper-crossing probability of ±1.96 boundaries at
/// 2, 4, 10, 20 equally spaced looks as 0.042, 0.063, 0.097, 0.124 (three decimals); the
/// two-sided error is twice that, 0.142 at 5 looks (Armitage, McPherson & Rowe 1969).
#[test]
fn naive_repeated_testing_is_inflated() {
    for (k, want) in [(2, 0.042), (4, 0.063), (10, 0.097), (20, 0.124)] {
        let naive = naive_design(k);
        let oc = naive.operating_characteristics(0.0).unwrap();
        let upper: f64 = oc.reject_above.iter().sum();
        assert!((upper - want).abs() < 5e-4 + 1e-6, "K = {k}: {upper}");
        assert!((oc.rejection_probability - 2.0 * upper).abs() < 1e-12);
    }
    let five = naive_design(5)
        .operating_characteristics(0.0)
        .unwrap()
        .rejection_probability;
    assert!((five - 0.142).abs() < 5e-4 + 1e-6, "{five}");
}

/// A design whose every critical value is `z_{0.975}`: fixed-sample tests at every look.
fn naive_design(k: usize) -> GsdDesign {
    let mut d = gsd_design(&equal(k), &GsdOptions::default()).unwrap();
    for l in &mut d.looks {
        l.critical_value = z(0.025);
    }
    d
}

/// `gsd.json`: critical values against the Gauss–Legendre reference (1e-6, the accuracy
/// the module promises; measured 7e-8 at worst), cumulative α and operating
/// characteristics against it (2e-8 in probability; measured 1.1e-8), and the cumulative α
/// and rejection probability against scipy's `multivariate_normal.cdf` (1e-6; requested
/// accuracy 1e-7, measured differences 3e-7).
#[test]
fn independent_integration_and_scipy() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reference/gsd.json");
    let text = std::fs::read_to_string(path).expect("gsd.json");
    let root: Value = serde_json::from_str(&text).unwrap();
    let cases = root["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 19);
    let mut worst = [0.0f64; 3];
    for case in cases {
        let (d, name) = reference_design(case);
        let want_c = floats(&case["critical_values"]);
        let want_spent = floats(&case["alpha_spent"]);
        for (k, look) in d.looks.iter().enumerate() {
            let (got, want) = (look.critical_value, want_c[k]);
            if want.is_infinite() {
                assert_eq!(got, want, "{name} look {k}");
            } else {
                worst[0] = worst[0].max((got - want).abs());
                assert!(
                    (got - want).abs() < 1e-6,
                    "{name} look {k}: {got} vs {want}"
                );
            }
            let e = (look.alpha_spent - want_spent[k]).abs();
            worst[1] = worst[1].max(e);
            assert!(e < 2e-8, "{name} look {k}: α spent {}", look.alpha_spent);
        }
        if let Value::Array(mvn) = &case["mvn_alpha_spent"] {
            for (look, m) in d.looks.iter().zip(mvn) {
                let m = m.as_f64().unwrap();
                worst[2] = worst[2].max((look.alpha_spent - m).abs());
                assert!((look.alpha_spent - m).abs() < 1e-6, "{name}: mvn {m}");
            }
        }
        for op in case["operating"].as_array().unwrap() {
            check_operating(&d, op, &name, &mut worst);
        }
    }
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "gsd.json worst |Δ|: critical value {:.1e}, probability {:.1e}, vs scipy mvn {:.1e}",
            worst[0], worst[1], worst[2]
        );
    }
}

fn reference_design(case: &Value) -> (GsdDesign, String) {
    let name = case["name"].as_str().unwrap().to_owned();
    let param = case["param"].as_f64().unwrap_or(f64::NAN);
    let boundary = match case["kind"].as_str().unwrap() {
        "lan_demets_obrien_fleming" => Boundary::LanDemetsObrienFleming,
        "lan_demets_pocock" => Boundary::LanDemetsPocock,
        "hwang_shih_decani" => Boundary::HwangShihDecani { gamma: param },
        "power_family" => Boundary::PowerFamily { rho: param },
        "wang_tsiatis" => Boundary::WangTsiatis { delta: param },
        other => panic!("{other}"),
    };
    let alternative = match case["sides"].as_u64().unwrap() {
        2 => Alternative::TwoSided,
        _ => Alternative::Greater,
    };
    let o = opts(case["alpha"].as_f64().unwrap(), alternative, boundary);
    let d = gsd_design(&floats(&case["fractions"]), &o).unwrap();
    (d, name)
}

fn check_operating(d: &GsdDesign, op: &Value, name: &str, worst: &mut [f64; 3]) {
    let drift = op["drift"].as_f64().unwrap();
    let oc = d.operating_characteristics(drift).unwrap();
    let number = |key: &str| op[key].as_f64().unwrap();
    let mut pairs = vec![
        (oc.power, number("power")),
        (oc.rejection_probability, number("rejection_probability")),
        (oc.expected_fraction, number("expected_fraction")),
    ];
    pairs.extend(
        oc.reject_above
            .iter()
            .copied()
            .zip(floats(&op["reject_above"])),
    );
    pairs.extend(
        oc.reject_below
            .iter()
            .copied()
            .zip(floats(&op["reject_below"])),
    );
    for (got, want) in pairs {
        worst[1] = worst[1].max((got - want).abs());
        assert!(
            (got - want).abs() < 2e-8,
            "{name} θ = {drift}: {got} vs {want}"
        );
    }
    if let Some(m) = op["mvn_rejection_probability"].as_f64() {
        let e = (oc.rejection_probability - m).abs();
        worst[2] = worst[2].max(e);
        assert!(e < 1e-6, "{name} θ = {drift}: mvn {m}");
    }
}

/// Numbers of a JSON array, `null` read as +∞ (an infinite critical value).
fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::INFINITY))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Monte Carlo.

/// Standard normal draws by Box–Muller from a seeded stream.
struct Normals(Xoshiro256PlusPlus);

impl Normals {
    fn new(seed: u64) -> Self {
        Normals(Xoshiro256PlusPlus::seed_from_u64(seed))
    }

    fn uniform(&mut self) -> f64 {
        // (0, 1]: 53 random bits, never 0.
        ((self.0.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    fn pair(&mut self) -> (f64, f64) {
        let r = (-2.0 * self.uniform().ln()).sqrt();
        let a = std::f64::consts::TAU * self.uniform();
        (r * a.cos(), r * a.sin())
    }
}

/// The z statistics at the looks of one simulated trial with drift `theta`: partial sums of
/// independent increments, `Z_k = S_k/√t_k`, `S_k ~ N(θ t_k, t_k)`.
fn simulate(t: &[f64], theta: f64, rng: &mut Normals, out: &mut Vec<f64>) {
    out.clear();
    let (mut s, mut prev) = (0.0, 0.0);
    for &tk in t {
        let d = tk - prev;
        s += theta * d + d.sqrt() * rng.pair().0;
        prev = tk;
        out.push(s / tk.sqrt());
    }
}

/// 200 000 simulated trials with 5 equally spaced looks, each check within 4 standard
/// errors (4.9e-4 at 0.05): under H0 the O'Brien–Fleming-like design rejects with
/// probability α and repeated testing at 1.96 with the computed 0.142; the repeated
/// confidence intervals cover a true difference at all five looks with probability 0.95;
/// the rejection rate at a drift matches `operating_characteristics`.
#[test]
fn monte_carlo_type_i_error_coverage_and_power() {
    const N: usize = 200_000;
    let t = equal(5);
    let d = gsd_design(&t, &GsdOptions::default()).unwrap();
    let c = critical(&d);
    let mut rng = Normals::new(20_240_611);
    let mut z = Vec::new();
    let (mut gsd, mut naive, mut covered, mut power) = (0usize, 0usize, 0usize, 0usize);
    let theta = 2.8;
    for _ in 0..N {
        simulate(&t, 0.0, &mut rng, &mut z);
        gsd += usize::from(z.iter().zip(&c).any(|(z, c)| z.abs() >= *c));
        naive += usize::from(z.iter().any(|z| z.abs() >= z_975()));
        // A trial whose true difference is 0.3, with standard errors 0.1/√t_k: at the
        // truth, (estimate − 0.3)/se is a null statistic.
        simulate(&t, 0.0, &mut rng, &mut z);
        let se: Vec<f64> = t.iter().map(|tk| 0.1 / tk.sqrt()).collect();
        let est: Vec<f64> = z.iter().zip(&se).map(|(z, se)| 0.3 + z * se).collect();
        let ci = d.repeated_ci(&est, &se).unwrap();
        covered += usize::from(ci.iter().all(|i| i.ci_low <= 0.3 && 0.3 <= i.ci_high));
        simulate(&t, theta, &mut rng, &mut z);
        power += usize::from(d.decide(&z).unwrap().reject);
    }
    let rate = |x: usize| x as f64 / N as f64;
    let within =
        |p: f64, want: f64| (p - want).abs() < 4.0 * (want * (1.0 - want) / N as f64).sqrt();
    assert!(within(rate(gsd), 0.05), "type I error {}", rate(gsd));
    let inflated = naive_design(5)
        .operating_characteristics(0.0)
        .unwrap()
        .rejection_probability;
    assert!(
        within(rate(naive), inflated),
        "naive {} vs {inflated}",
        rate(naive)
    );
    assert!(within(rate(covered), 0.95), "coverage {}", rate(covered));
    let want = d
        .operating_characteristics(theta)
        .unwrap()
        .rejection_probability;
    assert!(within(rate(power), want), "power {} vs {want}", rate(power));
}

fn z_975() -> f64 {
    z(0.025)
}

// ---------------------------------------------------------------------------------------
// Properties.

fn fractions() -> impl Strategy<Value = Vec<f64>> {
    // Ratios of at least 1.02 between consecutive looks, the last at 1.
    prop::collection::vec(1.02..3.0f64, 0..8).prop_map(|ratios| {
        let mut t = vec![1.0];
        for r in ratios {
            let next = t[t.len() - 1] / r;
            t.push(next);
        }
        t.reverse();
        t
    })
}

fn spending_boundary() -> impl Strategy<Value = Boundary> {
    prop_oneof![
        Just(Boundary::LanDemetsObrienFleming),
        Just(Boundary::LanDemetsPocock),
        (-8.0..4.0f64).prop_map(|gamma| Boundary::HwangShihDecani { gamma }),
        (0.5..4.0f64).prop_map(|rho| Boundary::PowerFamily { rho }),
    ]
}

fn alternative() -> impl Strategy<Value = Alternative> {
    prop_oneof![
        Just(Alternative::TwoSided),
        Just(Alternative::Greater),
        Just(Alternative::Less)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The cumulative α is nondecreasing and equals the spending function at every look;
    /// nominal p-values and critical values agree; the size is the α spent.
    #[test]
    fn spending_is_exact_and_monotone(
        t in fractions(), b in spending_boundary(), alt in alternative(), alpha in 0.001..0.2f64,
    ) {
        let d = gsd_design(&t, &opts(alpha, alt, b)).unwrap();
        let sides = if alt == Alternative::TwoSided { 2.0 } else { 1.0 };
        let mut previous = 0.0;
        for look in &d.looks {
            let want = sides * b.spending(alpha / sides, look.fraction).unwrap();
            prop_assert!((look.alpha_spent - want).abs() < 1e-10 * alpha.max(want));
            prop_assert!(look.alpha_spent >= previous - 1e-15);
            previous = look.alpha_spent;
            let nominal = sides * abforge_stats::norm_sf(look.critical_value);
            prop_assert_eq!(look.nominal_p, nominal);
        }
        let oc = d.operating_characteristics(0.0).unwrap();
        prop_assert!((oc.rejection_probability - previous).abs() < 1e-10);
        prop_assert!((oc.power * sides - previous).abs() < 1e-10);
    }

    /// O'Brien–Fleming-like critical values decrease over equally spaced looks, and a
    /// single look is the fixed-sample test.
    #[test]
    fn obrien_fleming_decreases_and_one_look_is_fixed(k in 1usize..=12, alpha in 0.001..0.2f64) {
        let d = gsd_design(&equal(k), &opts(alpha, Alternative::TwoSided,
            Boundary::LanDemetsObrienFleming)).unwrap();
        let c = critical(&d);
        prop_assert!(c.windows(2).all(|w| w[1] < w[0]), "{:?}", c);
        let one = gsd_design(&[1.0], &opts(alpha, Alternative::TwoSided,
            Boundary::LanDemetsPocock)).unwrap();
        let fixed = abforge_stats::norm_sf(one.looks[0].critical_value);
        prop_assert!((fixed - alpha / 2.0).abs() < 1e-15);
    }

    /// `Less` is `Greater` mirrored; the decision crosses exactly when the look's p-value is
    /// at most its nominal threshold; power grows with the drift.
    #[test]
    fn mirror_decision_and_power(t in fractions(), b in spending_boundary(),
                                 zs in prop::collection::vec(-5.0..5.0f64, 9)) {
        let g = gsd_design(&t, &opts(0.025, Alternative::Greater, b)).unwrap();
        let l = gsd_design(&t, &opts(0.025, Alternative::Less, b)).unwrap();
        prop_assert_eq!(critical(&g), critical(&l));
        let z = &zs[..t.len()];
        let minus: Vec<f64> = z.iter().map(|z| -z).collect();
        let (dg, dl) = (g.decide(z).unwrap(), l.decide(&minus).unwrap());
        prop_assert_eq!(dg.first_crossing, dl.first_crossing);
        for look in &dg.looks {
            prop_assert_eq!(look.crossed, look.p_value <= look.nominal_p);
        }
        let (p1, p2) = (g.operating_characteristics(1.0).unwrap(),
                        g.operating_characteristics(2.0).unwrap());
        prop_assert!(p2.power > p1.power);
        prop_assert!(p2.expected_fraction <= p1.expected_fraction + 1e-12);
        let pl = l.operating_characteristics(-2.0).unwrap();
        prop_assert!((pl.power - p2.power).abs() < 1e-12);
    }
}

// ---------------------------------------------------------------------------------------
// Refusals and serialisation.

#[test]
fn hostile_inputs_are_refused() {
    let o = GsdOptions::default();
    let bad_fractions: [&[f64]; 7] = [
        &[],
        &[0.5, 0.5, 1.0],
        &[0.6, 0.5, 1.0],
        &[0.0, 1.0],
        &[0.5, 1.1],
        &[f64::NAN, 1.0],
        &[0.5, 0.502, 1.0],
    ];
    for t in bad_fractions {
        assert!(gsd_design(t, &o).is_err(), "{t:?}");
    }
    let many = equal(51);
    let e = gsd_design(&many, &o).unwrap_err().to_string();
    assert!(e.contains("MAX_LOOKS = 50"), "{e}");
    for alpha in [0.0, 1e-7, 0.6, f64::NAN] {
        let e = gsd_design(&[1.0], &GsdOptions { alpha, ..o }).unwrap_err();
        assert!(e.to_string().contains("alpha"), "{e}");
    }
    for b in [
        Boundary::HwangShihDecani { gamma: 41.0 },
        Boundary::HwangShihDecani { gamma: f64::NAN },
        Boundary::PowerFamily { rho: 0.0 },
        Boundary::WangTsiatis { delta: 0.6 },
    ] {
        assert!(gsd_design(&[1.0], &two_sided(b)).is_err(), "{b:?}");
    }
    let d = gsd_design(&equal(3), &o).unwrap();
    assert!(d.decide(&[]).is_err());
    assert!(d.decide(&[1.0, 2.0, 3.0, 4.0]).is_err());
    assert!(d.decide(&[1.0, f64::NAN]).is_err());
    assert!(d.repeated_ci(&[1.0], &[0.0]).is_err());
    assert!(d.repeated_ci(&[1.0], &[f64::INFINITY]).is_err());
    assert!(d.repeated_ci(&[1.0, 2.0], &[1.0]).is_err());
    assert!(d.operating_characteristics(f64::NAN).is_err());
    // The fields are public; an edited design is validated before any integration.
    let mut edited = d.clone();
    edited.looks[1].fraction = edited.looks[0].fraction * (1.0 + 1e-9);
    assert!(edited.operating_characteristics(1.0).is_err());
    edited.looks[1].fraction = d.looks[1].fraction;
    edited.looks[1].critical_value = f64::NAN;
    assert!(edited.drift_for_power(0.8).is_err());
    // The power at drift 0 of a two-sided design is α/2 = 0.025.
    for p in [0.01, 0.025, 1.0, f64::NAN] {
        assert!(d.drift_for_power(p).is_err(), "{p}");
    }
}

#[test]
fn decisions_intervals_and_json() {
    let d = gsd_design(&equal(5), &GsdOptions::default()).unwrap();
    let r = d.decide(&[1.0, -3.5, 3.0]).unwrap();
    assert_eq!(r.first_crossing, Some(2));
    assert!(r.reject && r.looks[2].crossed && !r.looks[0].crossed);
    assert_eq!(r.alpha_spent, d.looks[2].alpha_spent);
    let quiet = d.decide(&[0.5, 1.0]).unwrap();
    assert_eq!((quiet.first_crossing, quiet.reject), (None, false));
    let ci = d.repeated_ci(&[0.4, 0.3], &[0.2, 0.1]).unwrap();
    let h = d.looks[1].critical_value * 0.1;
    assert!((ci[1].ci_low - (0.3 - h)).abs() < 1e-15 && (ci[1].ci_high - (0.3 + h)).abs() < 1e-15);
    let g = gsd_design(
        &equal(2),
        &opts(0.05, Alternative::Greater, Boundary::POCOCK),
    )
    .unwrap();
    let ci = g.repeated_ci(&[0.4], &[0.2]).unwrap();
    assert_eq!(ci[0].ci_high, f64::INFINITY);
    let json = serde_json::to_value(&ci).unwrap();
    assert!(json[0]["ci_high"].is_null());
    // A look that spends nothing has an infinite critical value, `null` in JSON.
    let early = gsd_design(
        &[1e-4, 1.0],
        &opts(
            1e-6,
            Alternative::TwoSided,
            Boundary::LanDemetsObrienFleming,
        ),
    )
    .unwrap();
    assert_eq!(early.looks[0].critical_value, f64::INFINITY);
    assert_eq!(early.looks[0].nominal_p, 0.0);
    let json = serde_json::to_value(&early).unwrap();
    assert!(json["looks"][0]["critical_value"].is_null());
    assert_eq!(json["boundary"]["kind"], "lan_demets_obrien_fleming");
    let json = serde_json::to_value(two_sided(Boundary::HwangShihDecani { gamma: -4.0 })).unwrap();
    assert_eq!(json["boundary"]["gamma"], -4.0);
    let decision = serde_json::to_value(&r).unwrap();
    assert_eq!(decision["first_crossing"], 2);
}
