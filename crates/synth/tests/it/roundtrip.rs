//! Property tests: TOML ↔ JSON round trips, and parameter validation against the documented
//! ranges.

use abforge_synth::Blueprint;
use abforge_synth::blueprint::{
    ArmSpec, Assignment, Attribute, Clusters, Correlation, EffectCurve, Metric, Param, PrePeriod,
    Prior, Ratio, Segment, Time,
};
use abforge_synth::dist::DistKind;
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = DistKind> {
    prop::sample::select(DistKind::ALL.to_vec())
}

/// A valid value for parameter `i` of `kind`.
fn value(kind: DistKind, i: usize) -> BoxedStrategy<f64> {
    match (kind, i) {
        (DistKind::Poisson, 0) => (0.001f64..1e6).boxed(),
        (DistKind::Gamma, _) => (0.01f64..100.0).boxed(),
        (DistKind::Bernoulli, 0) => (0.0f64..=1.0).boxed(),
        (DistKind::Lognormal, 0) => (-10.0f64..10.0).boxed(),
        (DistKind::Lognormal, 1) => (0.01f64..3.0).boxed(),
        (DistKind::Normal, 0) => (-1e6f64..1e6).boxed(),
        (DistKind::Normal, 1) => (0.001f64..1e3).boxed(),
        (DistKind::NegativeBinomial, 0) => (0.1f64..50.0).boxed(),
        (DistKind::NegativeBinomial, 1) => (0.01f64..=1.0).boxed(),
        _ => unreachable!(),
    }
}

fn param(kind: DistKind, i: usize) -> impl Strategy<Value = Param> {
    prop_oneof![
        3 => value(kind, i).prop_map(Param::Fixed),
        1 => prop::collection::vec(value(kind, i), 1..4).prop_map(Param::Choose),
    ]
}

fn arm(kind: DistKind) -> BoxedStrategy<ArmSpec> {
    let params: Vec<BoxedStrategy<(String, Param)>> = kind
        .params()
        .iter()
        .enumerate()
        .map(|(i, n)| param(kind, i).prop_map(move |p| (n.to_string(), p)).boxed())
        .collect();
    prop_oneof![
        3 => params.prop_map(ArmSpec::Params),
        1 => (-0.5f64..0.5).prop_map(|l| ArmSpec::Lift(Param::Fixed(l))),
        1 => (-0.5f64..0.5).prop_map(|l| ArmSpec::LiftAbs(Param::Fixed(l))),
        1 => (-0.2f64..0.2, 0.001f64..0.05).prop_map(|(mean, sd)| ArmSpec::Lift(Param::Prior(Prior::Normal { mean, sd }))),
        1 => (-0.5f64..0.0, 0.01f64..0.5).prop_map(|(low, w)| ArmSpec::LiftAbs(Param::Prior(Prior::Uniform { low, high: low + w }))),
    ]
    .boxed()
}

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,6}"
}

prop_compose! {
    fn blueprint()(
        id in "[a-z0-9_-]{1,20}",
        description in proptest::option::of("[ -~]{0,30}"),
        seed in 0u64..=i64::MAX as u64,
        customers in 1u64..=10_000_000_000,
        day in 0i64..20_000,
        days in 1u32..400,
        groups in prop::collection::vec(("[A-Za-z]([A-Za-z0-9 _-]{0,5}[A-Za-z0-9_-])?", 0.01f64..10.0), 2..5),
        srm in any::<bool>(),
        attrs in prop::collection::vec((name(), prop::collection::vec(("[A-Za-z0-9]([A-Za-z0-9 ]{0,4}[A-Za-z0-9])?", 0.01f64..5.0), 1..4)), 0..3),
        metric_kinds in prop::collection::vec((name(), kind(), any::<bool>(), 0.0f64..0.9, -1.0f64..=1.0, -5i32..5), 0..3),
    )(
        arms in metric_kinds.iter().map(|(_, k, ..)| prop::collection::vec(arm(*k), groups.len())).collect::<Vec<_>>(),
        id in Just(id), description in Just(description), seed in Just(seed), customers in Just(customers),
        day in Just(day), days in Just(days), groups in Just(groups), srm in Just(srm), attrs in Just(attrs),
        metric_kinds in Just(metric_kinds),
    ) -> Option<Blueprint> {
        // Names must be unique; skip draws that repeat one.
        let mut group_names: Vec<String> = groups.iter().map(|(g, _)| g.clone()).collect();
        group_names.sort();
        group_names.dedup();
        let mut columns: Vec<String> = attrs.iter().map(|(a, _)| a.clone()).chain(metric_kinds.iter().map(|(m, ..)| m.clone())).collect();
        let before = columns.len();
        columns.extend(metric_kinds.iter().filter(|(_, _, pre, ..)| *pre).map(|(m, ..)| format!("pre_{m}")));
        columns.extend(["customer_id", "experiment_id", "group", "purchase_date"].map(String::from));
        let total = columns.len();
        columns.sort();
        columns.dedup();
        let values_unique = attrs.iter().all(|(_, vs)| {
            let mut v: Vec<&String> = vs.iter().map(|(x, _)| x).collect();
            v.sort();
            v.dedup();
            v.len() == vs.len()
        });
        let _ = before;
        if group_names.len() != groups.len() || columns.len() != total || !values_unique {
            return None;
        }
        let start_date = chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap() + chrono::Days::new(day as u64);
        let control_group = groups[0].0.clone();
        let metrics = metric_kinds.iter().zip(arms).map(|((n, k, pre, zi, rho, off), mut arms)| {
            // The control needs explicit parameters.
            if !matches!(arms[0], ArmSpec::Params(_)) {
                arms[0] = ArmSpec::Params(k.params().iter().map(|p| (p.to_string(), Param::Fixed(0.5))).collect());
            }
            Metric {
                name: n.clone(),
                distribution: *k,
                offset: f64::from(*off),
                zero_inflation: Param::Fixed(*zi),
                pre_period: pre.then_some(PrePeriod { correlation: Param::Fixed(*rho) }),
                arms: groups.iter().map(|(g, _)| g.clone()).zip(arms).collect(),
                segments: if attrs.is_empty() { vec![] } else {
                    vec![Segment {
                        when: vec![(attrs[0].0.clone(), vec![attrs[0].1[0].0.clone()])],
                        arms: vec![(groups[1].0.clone(), ArmSpec::Lift(Param::Fixed(0.1)))],
                    }]
                },
            }
        }).collect();
        let correlated = metric_kinds.len() >= 2 && seed % 2 == 0;
        Some(Blueprint {
            id, description, seed, customers, start_date, days, control_group,
            actual_groups: srm.then(|| groups.iter().map(|(g, w)| (g.clone(), w * 1.5 + 0.1)).collect()),
            groups,
            attributes: attrs.into_iter().map(|(name, values)| Attribute { name, values }).collect(),
            metrics,
            // The default (not written out) or a list of probabilities that are not round.
            quantiles: if seed % 3 == 0 {
                abforge_synth::blueprint::DEFAULT_QUANTILES.to_vec()
            } else {
                vec![0.01 + (seed % 7) as f64 / 100.0, 0.5, 0.975]
            },
            correlations: if correlated {
                let name = |i: usize| metric_kinds[i].0.clone();
                vec![Correlation { metrics: [name(1), name(0)], rho: -0.35 }]
            } else {
                Vec::new()
            },
            clusters: (seed % 5 == 1 && !columns.iter().any(|c| c == "cluster_id")).then(|| Clusters {
                count: 2 + seed % 1000,
                size_cv: if seed % 2 == 0 { 0.0 } else { 0.75 },
                assignment: if seed % 3 == 0 { Assignment::Customer } else { Assignment::Cluster },
                icc: match metric_kinds.first() {
                    Some((m, ..)) if !correlated => vec![(m.clone(), 0.15)],
                    _ => Vec::new(),
                },
            }),
            ratios: match metric_kinds.as_slice() {
                [a, b, ..] if seed % 3 == 2 => vec![Ratio { numerator: a.0.clone(), denominator: b.0.clone() }],
                _ => Vec::new(),
            },
            time: (seed % 4 == 1).then_some(Time {
                weekdays: [1.0, 1.0, 1.25, 1.0, 1.5, 2.0, 0.5],
                effect: match (days <= abforge_synth::blueprint::MAX_EFFECT_DAYS, seed % 3) {
                    (false, _) | (true, 0) => EffectCurve::Constant,
                    (true, 1) => EffectCurve::Novelty { boost: 0.75, half_life: 3.5 },
                    _ => EffectCurve::Ramp { days: 7 },
                },
            }),
        })
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn toml_and_json_round_trip(bp in blueprint()) {
        let Some(bp) = bp else { return Ok(()) };
        let toml = bp.to_toml();
        let from_toml = Blueprint::from_toml(&toml).map_err(|e| TestCaseError::fail(format!("{e}\n{toml}")))?;
        prop_assert_eq!(&from_toml, &bp);
        let json = bp.to_json();
        let from_json = Blueprint::from_json(&json).map_err(|e| TestCaseError::fail(format!("{e}\n{json}")))?;
        prop_assert_eq!(&from_json, &bp);
        // And across: TOML → JSON → TOML is the identity on the text.
        prop_assert_eq!(from_json.to_toml(), toml);
    }

    #[test]
    fn resolution_is_idempotent(bp in blueprint()) {
        let Some(bp) = bp else { return Ok(()) };
        let Ok(r) = bp.resolve() else { return Ok(()) };
        prop_assert!(!r.blueprint.has_choices());
        let again = Blueprint::from_json(&r.blueprint.to_json()).expect("a resolved blueprint is valid").resolve().expect("resolves");
        prop_assert_eq!(&again.blueprint, &r.blueprint);
        prop_assert_eq!(&again.metrics, &r.metrics);
        prop_assert!(again.choices.is_empty());
    }

    #[test]
    fn parameters_are_accepted_exactly_in_their_documented_range(
        k in kind(),
        i in 0usize..2,
        v in prop_oneof![-2.0f64..2.0, -1e13f64..1e13, Just(0.0), Just(1.0), Just(1e12), Just(700.0), Just(700.5), Just(20.0), Just(20.5)],
    ) {
        let i = i % k.params().len();
        // The ranges as the documentation states them, written out independently.
        let expected = match (k, i) {
            (DistKind::Poisson, _) => v > 0.0 && v <= 1e12,
            (DistKind::Gamma, _) => v > 0.0,
            (DistKind::Bernoulli, _) => (0.0..=1.0).contains(&v),
            (DistKind::Lognormal, 0) => (-700.0..=700.0).contains(&v),
            (DistKind::Lognormal, _) => v > 0.0 && v <= 20.0,
            (DistKind::Normal, 0) => true,
            (DistKind::Normal, _) => v > 0.0,
            (DistKind::NegativeBinomial, 0) => v > 0.0,
            (DistKind::NegativeBinomial, _) => v > 0.0 && v <= 1.0,
        };
        let good = ["1", "0.5"];
        let params: Vec<String> = k.params().iter().enumerate()
            .map(|(j, p)| format!("{p} = {}", if j == i { format!("{v:?}") } else { good[j].to_string() }))
            .collect();
        let text = format!(
            "id = \"p\"\ncustomers = 1\nstart_date = 2026-01-01\ndays = 1\n[groups]\ncontrol = 1\ntreatment = 1\n[metrics.m]\ndistribution = \"{}\"\ncontrol = {{ {} }}\ntreatment = {{ lift = 0 }}\n",
            k.name(), params.join(", ")
        );
        let got = Blueprint::from_toml(&text);
        prop_assert_eq!(got.is_ok(), expected, "{} {} = {}: {:?}", k.name(), k.params()[i], v, got.err().map(|e| e.to_string()));
        if let Err(e) = got {
            let path = format!("metrics.m.control.{}", k.params()[i]);
            prop_assert!(e.to_string().contains(&path), "error names the field: {}", e);
        }
    }
}
