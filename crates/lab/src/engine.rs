//! The engine protocol's abforge side (`docs/engine-protocol.md`, version 1): an external A/B
//! engine as a long-lived process, fed batches of replications as Arrow IPC streams on its
//! stdin, answering one JSON line per replication × metric × arm × test (× look) on its
//! stdout. Nothing an engine writes is trusted: a line that does not parse, misses a field,
//! carries a non-finite number or answers what was not asked is that item's failure, in the
//! engine's words or ours; a crash or a silence past the timeout fails the rest of the batch,
//! and the next batch starts a fresh process.

use crate::error::{Error, Result};
use abforge_env::Invalid;
use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The protocol this side speaks.
pub const PROTOCOL: &str = "abforge-engine/1";
/// The schema metadata key of a request.
const REQUEST_KEY: &str = "abforge.request";
/// Longest line read from an engine; a longer one is an error, not an allocation.
const MAX_LINE: usize = 1 << 20;
/// Lines of the engine's stderr kept to explain a crash.
const STDERR_TAIL: usize = 20;

/// How to run an engine.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineOptions {
    /// The command, run by `sh -c` in the current directory.
    pub command: String,
    /// Longest wait for one line of the engine (the handshake, or the next answer).
    pub timeout: Duration,
}

/// One test an engine offers, from its handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineTest {
    /// Its name.
    pub name: String,
    /// The metric kinds it takes: `binary`, `count`, `continuous`.
    pub kinds: Vec<String>,
    /// Whether it answers at every look and promises validity at any of them.
    pub sequential: bool,
    /// Whether it needs the metric's pre-period covariate.
    pub needs_covariate: bool,
    /// What its estimate and interval estimate: `difference`, `lift` or `ratio`.
    pub estimand: String,
}

/// The engine's handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handshake {
    /// The protocol it speaks.
    pub protocol: String,
    /// Its name.
    pub engine: String,
    /// The version of the engine package.
    pub version: String,
    /// The tests it offers.
    pub tests: Vec<EngineTest>,
}

/// One metric of a request.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RequestMetric {
    pub name: String,
    pub kind: &'static str,
    pub covariate: Option<String>,
}

/// What every request of a run shares.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RequestHead {
    pub alpha: f64,
    pub control: String,
    pub arms: Vec<String>,
    pub looks: u32,
    pub metrics: Vec<RequestMetric>,
    pub tests: Vec<String>,
}

/// One answer line, as the engine wrote it.
#[derive(Debug, Deserialize)]
struct Line {
    batch: Option<u64>,
    done: Option<bool>,
    fatal: Option<String>,
    replication: Option<u64>,
    metric: Option<String>,
    arm: Option<String>,
    test: Option<String>,
    look: Option<u32>,
    estimate: Option<f64>,
    ci_low: Option<f64>,
    ci_high: Option<f64>,
    p_value: Option<f64>,
    reject: Option<bool>,
    error: Option<String>,
}

/// Which item an answer is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ItemKey {
    pub replication: u64,
    pub metric: String,
    pub arm: String,
    pub test: String,
    pub look: u32,
}

/// One item's answer: the decision and interval, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    Decision {
        reject: bool,
        p: Option<f64>,
        estimate: Option<f64>,
        interval: Option<(f64, f64)>,
    },
    Failed(String),
}

/// A batch's columns, built replication by replication.
#[derive(Debug, Default)]
pub(crate) struct BatchBuilder {
    replication: Vec<u64>,
    /// Each row's group, an index into `groups` (the names are written once per stream).
    group: Vec<u16>,
    groups: Vec<String>,
    /// Per request metric: its values, then its covariate (empty when none).
    values: Vec<Vec<f64>>,
    covariates: Vec<Vec<f64>>,
}

impl BatchBuilder {
    /// Appends replication `r`: per group (names), per metric, the values and covariates.
    pub(crate) fn push(
        &mut self,
        r: u64,
        groups: &[String],
        values: &[Vec<Vec<f64>>],
        covariates: &[Vec<Vec<f64>>],
    ) {
        self.values.resize_with(values.len(), Vec::new);
        self.covariates.resize_with(values.len(), Vec::new);
        if self.groups.is_empty() {
            self.groups = groups.to_vec();
        }
        for g in 0..groups.len() {
            let n = values.first().map_or(0, |m| m[g].len());
            self.replication.extend(std::iter::repeat_n(r, n));
            self.group.extend(std::iter::repeat_n(g as u16, n));
            for (pos, m) in values.iter().enumerate() {
                self.values[pos].extend_from_slice(&m[g]);
                if covariates[pos][g].len() == n {
                    self.covariates[pos].extend_from_slice(&covariates[pos][g]);
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.replication.is_empty()
    }

    /// The Arrow IPC stream of the batch, the request's JSON in its schema metadata.
    fn stream(&mut self, head: &RequestHead, batch: u64) -> Result<Vec<u8>> {
        let mut request = serde_json::to_value(head).expect("a request serialises");
        request["batch"] = batch.into();
        let mut fields = vec![
            Field::new("replication", DataType::UInt64, false),
            Field::new("group", DataType::Utf8, false),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from(std::mem::take(&mut self.replication))),
            Arc::new(StringArray::from_iter_values(
                std::mem::take(&mut self.group)
                    .into_iter()
                    .map(|g| self.groups[usize::from(g)].as_str()),
            )),
        ];
        for (m, (v, c)) in head
            .metrics
            .iter()
            .zip(self.values.iter_mut().zip(self.covariates.iter_mut()))
        {
            fields.push(Field::new(&m.name, DataType::Float64, false));
            columns.push(Arc::new(Float64Array::from(std::mem::take(v))));
            if let Some(cov) = &m.covariate {
                fields.push(Field::new(cov, DataType::Float64, false));
                columns.push(Arc::new(Float64Array::from(std::mem::take(c))));
            }
        }
        let meta = HashMap::from([(REQUEST_KEY.to_string(), request.to_string())]);
        let schema = Arc::new(Schema::new_with_metadata(fields, meta));
        let rb = RecordBatch::try_new(Arc::clone(&schema), columns)
            .map_err(|e| Error::Engine(format!("building a request: {e}")))?;
        let mut out = Vec::new();
        let mut w = StreamWriter::try_new(&mut out, &schema)
            .map_err(|e| Error::Engine(format!("writing a request: {e}")))?;
        w.write(&rb)
            .and_then(|()| w.finish())
            .map_err(|e| Error::Engine(format!("writing a request: {e}")))?;
        drop(w);
        Ok(out)
    }
}

/// A running engine process.
struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<std::io::Result<String>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl Process {
    fn spawn(opts: &EngineOptions) -> Result<Process> {
        // Its own process group, so that killing it kills what `sh` started too.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&opts.command)
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::Engine(format!("starting `{}`: {e}", opts.command)))?;
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut buf = Vec::new();
                let n = (&mut r)
                    .take(MAX_LINE as u64 + 1)
                    .read_until(b'\n', &mut buf);
                let msg = match n {
                    Ok(0) => break,
                    Ok(_) if buf.len() > MAX_LINE => Err(std::io::Error::other(format!(
                        "a line longer than {MAX_LINE} bytes"
                    ))),
                    Ok(_) => Ok(String::from_utf8_lossy(&buf).trim_end().to_string()),
                    Err(e) => Err(e),
                };
                let stop = msg.is_err();
                if tx.send(msg).is_err() || stop {
                    break;
                }
            }
        });
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let keep = Arc::clone(&tail);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr)
                .lines()
                .map_while(std::result::Result::ok)
            {
                let mut t = keep.lock().expect("not poisoned");
                if t.len() == STDERR_TAIL {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });
        Ok(Process {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr: tail,
        })
    }

    /// The next line, or why there is none.
    fn line(&mut self, timeout: Duration) -> std::result::Result<String, String> {
        match self.lines.recv_timeout(timeout) {
            Ok(Ok(l)) => Ok(l),
            Ok(Err(e)) => Err(format!("reading the engine's output: {e}")),
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "the engine said nothing for {:.1} s (the timeout)",
                timeout.as_secs_f64()
            )),
            Err(RecvTimeoutError::Disconnected) => Err(self.exit_reason()),
        }
    }

    fn exit_reason(&mut self) -> String {
        let status = self
            .child
            .wait()
            .map_or_else(|e| e.to_string(), |s| s.to_string());
        let tail: Vec<String> = self
            .stderr
            .lock()
            .expect("not poisoned")
            .iter()
            .cloned()
            .collect();
        format!(
            "the engine stopped ({status}){}",
            if tail.is_empty() {
                String::new()
            } else {
                format!("; its last words: {}", tail.join(" | "))
            }
        )
    }

    fn kill(mut self) {
        drop(self.stdin.take());
        self.kill_group();
        let _ = self.child.wait();
    }

    /// Kills the engine's process group (the shell and whatever it started).
    fn kill_group(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--"])
            .arg(format!("-{}", self.child.id()))
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        drop(self.stdin.take());
        // Closing stdin asks the engine to exit; one that does not is killed.
        if matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
            if matches!(self.child.try_wait(), Ok(None)) {
                self.kill_group();
            }
        }
        let _ = self.child.wait();
    }
}

/// The engines of a run: one process per worker at a time, started on demand and kept.
pub(crate) struct Engines {
    opts: EngineOptions,
    pub handshake: Handshake,
    idle: Mutex<Vec<Process>>,
}

impl Engines {
    /// Starts one engine and reads its handshake.
    ///
    /// # Errors
    /// [`Error::Engine`] when it does not start or its handshake is missing, late, not
    /// JSON, or of another protocol.
    pub(crate) fn start(opts: EngineOptions) -> Result<Engines> {
        let mut p = Process::spawn(&opts)?;
        let handshake = read_handshake(&mut p, opts.timeout)?;
        Ok(Engines {
            opts,
            handshake,
            idle: Mutex::new(vec![p]),
        })
    }

    /// Sends one batch and collects every answer until the engine says it is done. A
    /// transport failure fails the items not yet answered (the returned reason) and the
    /// process is dropped; the next batch starts another. Lines that are not the
    /// protocol's JSON are counted, and explain the items they leave unanswered.
    pub(crate) fn run_batch(
        &self,
        head: &RequestHead,
        batch: u64,
        builder: &mut BatchBuilder,
    ) -> Result<(HashMap<ItemKey, Answer>, Option<String>)> {
        if builder.is_empty() {
            return Ok((HashMap::new(), None));
        }
        let mut bad = (0u64, String::new());
        let (answers, why) = self.exchange(head, batch, builder, &mut bad)?;
        let why = why.or_else(|| {
            (bad.0 > 0).then(|| {
                format!(
                    "no valid answer: {} line(s) of the engine were not the protocol's JSON \
                     (the first: {})",
                    bad.0, bad.1
                )
            })
        });
        Ok((answers, why))
    }

    fn exchange(
        &self,
        head: &RequestHead,
        batch: u64,
        builder: &mut BatchBuilder,
        bad: &mut (u64, String),
    ) -> Result<(HashMap<ItemKey, Answer>, Option<String>)> {
        let bytes = builder.stream(head, batch)?;
        let popped = self.idle.lock().expect("not poisoned").pop();
        let mut p = match popped {
            Some(p) => p,
            None => {
                let mut p = Process::spawn(&self.opts)?;
                read_handshake(&mut p, self.opts.timeout)?;
                p
            }
        };
        let sent = p
            .stdin
            .as_mut()
            .expect("open until dropped")
            .write_all(&bytes)
            .and_then(|()| p.stdin.as_mut().expect("open").flush());
        if let Err(e) = sent {
            let why = format!("writing the request: {e}; {}", p.exit_reason());
            p.kill();
            return Ok((HashMap::new(), Some(why)));
        }
        let mut answers = HashMap::new();
        loop {
            let line = match p.line(self.opts.timeout) {
                Ok(l) => l,
                Err(why) => {
                    p.kill();
                    return Ok((answers, Some(why)));
                }
            };
            match parse_line(&line, batch) {
                Parsed::Done => break,
                Parsed::Item(k, a) => {
                    answers.entry(k).or_insert(a);
                }
                Parsed::Fatal(why) => {
                    p.kill();
                    return Ok((answers, Some(format!("the engine gave up: {why}"))));
                }
                Parsed::Ignored if !line.trim().is_empty() => {
                    if bad.0 == 0 {
                        bad.1 = clip(&line);
                    }
                    bad.0 += 1;
                }
                Parsed::Ignored => {}
            }
        }
        self.idle.lock().expect("not poisoned").push(p);
        Ok((answers, None))
    }
}

fn read_handshake(p: &mut Process, timeout: Duration) -> Result<Handshake> {
    let line = p
        .line(timeout)
        .map_err(|why| Error::Engine(format!("no handshake: {why}")))?;
    let h: Handshake = serde_json::from_str(&line).map_err(|e| {
        Error::Engine(format!(
            "the handshake is not the protocol's JSON ({e}): {}",
            clip(&line)
        ))
    })?;
    if h.protocol != PROTOCOL {
        return Err(Invalid::new(
            "engine",
            format!(
                "the engine speaks {:?}; abforge speaks {PROTOCOL}",
                h.protocol
            ),
        )
        .into());
    }
    if h.tests.is_empty() {
        return Err(Invalid::new("engine", "the engine offers no test").into());
    }
    Ok(h)
}

/// What one line says.
enum Parsed {
    Item(ItemKey, Answer),
    Done,
    Fatal(String),
    Ignored,
}

fn parse_line(line: &str, batch: u64) -> Parsed {
    if line.trim().is_empty() {
        return Parsed::Ignored;
    }
    let l: Line = match serde_json::from_str(line) {
        Ok(l) => l,
        // A line that is not JSON is not any item's answer; its item will be missing.
        Err(_) => return Parsed::Ignored,
    };
    if let Some(f) = l.fatal {
        return Parsed::Fatal(f);
    }
    if l.done == Some(true) && l.batch == Some(batch) {
        return Parsed::Done;
    }
    let (Some(replication), Some(metric), Some(arm), Some(test)) = (
        l.replication,
        l.metric.clone(),
        l.arm.clone(),
        l.test.clone(),
    ) else {
        return Parsed::Ignored;
    };
    let key = ItemKey {
        replication,
        metric,
        arm,
        test,
        look: l.look.unwrap_or(0),
    };
    Parsed::Item(key, answer(&l))
}

/// The decision of a line, or why it is not one.
fn answer(l: &Line) -> Answer {
    if let Some(e) = &l.error {
        return Answer::Failed(clip(e));
    }
    let Some(reject) = l.reject else {
        return Answer::Failed("bad output: no `reject`".into());
    };
    let finite = |x: Option<f64>| x.is_none_or(f64::is_finite);
    if !(finite(l.estimate) && finite(l.p_value) && finite(l.ci_low) && finite(l.ci_high)) {
        return Answer::Failed("bad output: a number is not finite".into());
    }
    if l.p_value.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
        return Answer::Failed("bad output: a p-value outside [0, 1]".into());
    }
    let interval = match (l.ci_low, l.ci_high) {
        (Some(a), Some(b)) if a <= b => Some((a, b)),
        (Some(_), Some(_)) => return Answer::Failed("bad output: ci_low > ci_high".into()),
        _ => None,
    };
    Answer::Decision {
        reject,
        p: l.p_value,
        estimate: l.estimate,
        interval,
    }
}

/// At most 300 characters of an engine's words.
fn clip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked_before_they_count() {
        let ok = r#"{"batch":0,"replication":3,"metric":"m","arm":"t","test":"x","estimate":1.5,"ci_low":1,"ci_high":2,"p_value":0.01,"reject":true}"#;
        match parse_line(ok, 0) {
            Parsed::Item(
                k,
                Answer::Decision {
                    reject,
                    p,
                    interval,
                    ..
                },
            ) => {
                assert_eq!((k.replication, k.look), (3, 0));
                assert_eq!((reject, p, interval), (true, Some(0.01), Some((1.0, 2.0))));
            }
            _ => panic!("an item"),
        }
        for (line, why) in [
            (
                r#"{"replication":1,"metric":"m","arm":"t","test":"x","estimate":1}"#,
                "no `reject`",
            ),
            (
                r#"{"replication":1,"metric":"m","arm":"t","test":"x","reject":true,"p_value":2}"#,
                "outside",
            ),
            (
                r#"{"replication":1,"metric":"m","arm":"t","test":"x","reject":true,"ci_low":2,"ci_high":1}"#,
                "ci_low",
            ),
            (
                r#"{"replication":1,"metric":"m","arm":"t","test":"x","error":"singular matrix"}"#,
                "singular",
            ),
        ] {
            match parse_line(line, 0) {
                Parsed::Item(_, Answer::Failed(w)) => assert!(w.contains(why), "{w}"),
                _ => panic!("{line}"),
            }
        }
        assert!(matches!(
            parse_line(r#"{"batch":4,"done":true}"#, 4),
            Parsed::Done
        ));
        assert!(matches!(
            parse_line(r#"{"batch":3,"done":true}"#, 4),
            Parsed::Ignored
        ));
        assert!(matches!(parse_line("NaN garbage", 4), Parsed::Ignored));
        assert!(matches!(
            parse_line(r#"{"fatal":"bad request"}"#, 4),
            Parsed::Fatal(_)
        ));
        assert_eq!(clip(&"x".repeat(400)).chars().count(), 301);
    }
}

/// An engine in a calibration: its processes, the request every batch shares, the tests
/// used and one entry per (calibrated metric position, arm group, test index).
pub(crate) struct EnginePlan {
    pub engines: Engines,
    pub head: RequestHead,
    pub tests: Vec<EngineTest>,
    pub entries: Vec<(usize, usize, usize)>,
    pub command: String,
    /// The blueprint's group names, in its order.
    pub groups: Vec<String>,
}

/// Why an engine's items failed, and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineFailure {
    /// The engine's test.
    pub test: String,
    /// The engine's words, or what was wrong with its answer.
    pub reason: String,
    /// Items (replication × metric × arm, at one look) that failed so.
    pub items: u64,
}

/// What a calibration measured of an external engine, beside abforge's own tests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngineReport {
    /// The engine's name, from its handshake.
    pub engine: String,
    /// The engine package's version.
    pub version: String,
    /// The protocol spoken.
    pub protocol: String,
    /// The command that ran it.
    pub command: String,
    /// The tests it ran, as its handshake declared them.
    pub tests: Vec<EngineTest>,
    /// One entry per metric × arm × engine test, judged as abforge's own.
    pub results: Vec<crate::report::TestResult<String>>,
    /// Items that gave no decision, by test and reason (the 20 most frequent).
    pub failures: Vec<EngineFailure>,
}

/// Rows a group shows at look `k` of `looks`: `⌈k·n/looks⌉`, at least 2, at most `n`.
pub(crate) fn look_size(n: u64, k: u32, looks: u32) -> u64 {
    (n * u64::from(k)).div_ceil(u64::from(looks)).max(2).min(n)
}

/// The interval's target of an engine's estimand; `None` for one abforge does not know.
pub(crate) fn estimand_target(estimand: &str) -> crate::method::Target {
    use crate::method::Target;
    match estimand {
        "difference" => Target::Difference,
        "lift" => Target::Lift,
        "ratio" => Target::Ratio,
        _ => Target::None,
    }
}
