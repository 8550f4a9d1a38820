use crate::common::resolve;
fn p(dist: &str, body: &str) -> f64 {
    let t = format!("id = \"x\"\ncustomers = 10\nstart_date = 2026-11-23\ndays = 1\ncontrol_group = \"a\"\n[groups]\na = 1\nb = 1\n[metrics.m]\ndistribution = \"{dist}\"\n{body}\n");
    resolve(&t).truth().metrics[0].effects[0].prob_superiority.unwrap()
}
#[test]
fn debug_nan() {
    for (z, s) in [(0.0, 0.0), (0.3, 1.0), (0.5, -1.0), (0.2, -3.0), (0.6, 2.0)] {
        for (lc, lt) in [(0.3, 0.35), (4.0, 4.4), (25.0, 24.0)] {
            let body = format!("zero_inflation = {z}\noffset = {s}\na = {{ lambda = {lc} }}\nb = {{ lambda = {lt} }}");
            eprintln!("poisson z={z} s={s} {lc} {lt}: {}", p("poisson", &body));
        }
        for ((rc, qc), (rt, qt)) in [((2.5, 0.3), (0.7, 0.1)), ((0.7, 0.9), (0.7, 0.85)), ((2.0, 0.5), (2.0, 1.0))] {
            let body = format!("zero_inflation = {z}\noffset = {s}\na = {{ r = {rc}, p = {qc} }}\nb = {{ r = {rt}, p = {qt} }}");
            eprintln!("nb z={z} s={s} {rc},{qc} {rt},{qt}: {}", p("negative_binomial", &body));
        }
    }
}
#[test]
fn debug_quad() {
    let phi = |x: f64| statrs::distribution::ContinuousCDF::cdf(&statrs::distribution::Normal::new(0.0, 1.0).unwrap(), x);
    for sc in [0.05, 0.1, 0.2, 0.3, 0.5, 1.0] {
        for st in [1.0, 2.0, 3.0, 5.0, 7.0, 10.0] {
            let (mc, mt) = (0.0, 0.3);
            let want = phi((mt - mc) / (sc * sc + st * st as f64).sqrt());
            let got = p("normal", &format!("a = {{ mean = {mc}, sd = {sc} }}\nb = {{ mean = {mt}, sd = {st} }}"));
            let got2 = p("lognormal", &format!("a = {{ mu = {mc}, sigma = {sc} }}\nb = {{ mu = {mt}, sigma = {st} }}"));
            eprintln!("sdC {sc} sdT {st}: normal err {:.3e}, lognormal err {:.3e}", got - want, got2 - want);
        }
    }
    for (a, b) in [(0.3, 30.0), (1.0, 50.0), (50.0, 1.0), (200.0, 210.0), (0.1, 0.1001), (0.05, 2.0)] {
        let want = 1.0 - statrs::function::beta::beta_reg(a, b, 0.5);
        let got = p("gamma", &format!("a = {{ shape = {b}, scale = 1 }}\nb = {{ shape = {a}, scale = 1 }}"));
        eprintln!("gamma T {a} C {b}: err {:.3e}", got - want);
    }
}
#[test]
fn debug_gamma() {
    for (a, b) in [(0.1, 0.2), (0.2, 0.1), (0.2, 0.21), (0.3, 0.33), (0.5, 0.55), (0.8, 0.85), (1.0, 1.05), (0.5, 20.0), (20.0, 0.5), (0.3, 5.0), (5.0, 0.3), (1000.0, 1010.0)] {
        let want = 1.0 - statrs::function::beta::beta_reg(a, b, 0.5);
        let got = p("gamma", &format!("a = {{ shape = {b}, scale = 1 }}\nb = {{ shape = {a}, scale = 1 }}"));
        eprintln!("gamma T {a} C {b}: err {:.3e}", got - want);
    }
    let nb = statrs::distribution::NegativeBinomial::new(2.0, 1.0).unwrap();
    eprintln!("statrs NB(2,1) pmf(0) = {}", statrs::distribution::Discrete::pmf(&nb, 0));
    // NB p = 1 reached by a lift of -100 %.
    eprintln!("lift -1: {}", p("negative_binomial", "a = { r = 2, p = 0.5 }\nb = { lift = -1 }"));
    eprintln!("normal 0.1 vs 10: {}", p("normal", "a = { mean = 0, sd = 0.1 }\nb = { mean = 0.3, sd = 10 }"));
    eprintln!("lognormal sigma 0.1 vs 10: {}", p("lognormal", "a = { mu = 0, sigma = 0.1 }\nb = { mu = 0.3, sigma = 10 }"));
}
#[test]
fn debug_gamma2() {
    for a in [100.0, 200.0, 300.0, 400.0, 500.0, 700.0, 1000.0, 5000.0] {
        let b = a * 1.01;
        let want = 1.0 - statrs::function::beta::beta_reg(a, b, 0.5);
        let got = p("gamma", &format!("a = {{ shape = {b}, scale = 1 }}\nb = {{ shape = {a}, scale = 1 }}"));
        let got2 = p("gamma", &format!("b = {{ shape = {b}, scale = 1 }}\na = {{ shape = {a}, scale = 1 }}"));
        eprintln!("gamma T {a} C {b}: want {want:.6} got {got:.6} err {:.3e} (same order) {got2}", got - want);
    }
}
