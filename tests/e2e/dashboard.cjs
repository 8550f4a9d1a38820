// The dashboard in headless Chromium (Debian's chromium, driven by playwright-core): every
// page, a filter, links, bad input, a server without a lake — and the numbers on each page
// compared with its JSON twin's. Screenshots go to the artifacts folder.
//
//   node tests/e2e/dashboard.cjs LAKE_URL EMPTY_URL ARTIFACTS   (scripts/dashboard-test.sh)
'use strict';
const assert = require('node:assert/strict');
const path = require('node:path');
const { chromium } = require('playwright-core');

const [lakeUrl, emptyUrl, out] = process.argv.slice(2);
// Whether the data step published an engine's calibration (scripts/dashboard-test.sh).
const engines = process.env.ENGINES === '1';
if (!out) {
  console.error('usage: dashboard.cjs LAKE_URL EMPTY_URL ARTIFACTS');
  process.exit(2);
}

async function getJson(url, status = 200) {
  const r = await fetch(url);
  assert.equal(r.status, status, `${url}: status`);
  assert.match(r.headers.get('content-type'), /^application\/json/, `${url}: content type`);
  return r.json();
}

// A number as the page prints it (4 significant digits, or scientific) against the JSON's.
function close(text, value, what) {
  if (value === null || value === undefined) {
    assert.equal(text, '—', `${what}: ${text} for none`);
    return;
  }
  const shown = Number(text);
  assert.ok(Number.isFinite(shown), `${what}: ${text} is not a number`);
  const tol = Math.max(Math.abs(value) * 1e-3, 1e-12);
  assert.ok(Math.abs(shown - value) <= tol, `${what}: page ${text}, JSON ${value}`);
}

// A p-value as the page shows it: `< 1e-16` for one below that floor, never `0`.
function pClose(text, value, what) {
  if (typeof value === 'number' && value < 1e-16) {
    assert.equal(text, '< 1e-16', `${what}: ${text} for ${value}`);
    return;
  }
  close(text, value, what);
}

async function cells(page, selector) {
  return page.$$eval(selector, (trs) =>
    trs.map((tr) => Array.from(tr.cells).map((c) => c.textContent.trim())),
  );
}

function tallyMatches(row, tally, what) {
  // [decisions, correct, type I, type II] as the page shows them.
  assert.deepEqual(
    row.map(Number),
    [tally.decisions, tally.correct, tally.type_i, tally.type_ii],
    what,
  );
}

// The JSON twin the page links to: the same view (path) with the same filters (the
// page's query without its empty form fields).
async function twinOf(page, base) {
  const href = await page.getAttribute('#json', 'href');
  const twin = new URL(href, base);
  const here = new URL(page.url());
  const expected =
    here.pathname === '/'
      ? '/v1/results'
      : here.pathname === '/calibration' || here.pathname === '/engines'
        ? `/v1${here.pathname}`
        : here.pathname.replace(/^\/experiments/, '/v1/results');
  assert.equal(twin.pathname, expected, 'the twin is the same view');
  const given = [...here.searchParams].filter(([, v]) => v !== '').sort();
  assert.deepEqual([...twin.searchParams].sort(), given, 'the twin has the same filters');
  return getJson(twin.href);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  const problems = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  page.on('request', (r) => {
    if (!r.url().startsWith(lakeUrl) && !r.url().startsWith(emptyUrl)) {
      problems.push(`a request off the server: ${r.url()}`);
    }
  });

  // ---- the experiments page ----
  let res = await page.goto(`${lakeUrl}/`);
  assert.equal(res.status(), 200);
  assert.equal(await page.title(), 'Experiments · abforge');
  assert.equal((await page.$$('script')).length, 0, 'no script on the page');
  let twin = await twinOf(page, lakeUrl);
  assert.equal(twin.lake, true);
  const rows = await cells(page, '#experiments tbody tr[data-experiment]');
  assert.equal(rows.length, twin.experiments.length, 'one row per experiment');
  assert.ok(rows.length >= 1);
  twin.experiments.forEach((e, i) => {
    const r = rows[i];
    assert.equal(r[0], e.experiment_id);
    assert.equal(Number(r[1]), e.runs, 'runs');
    assert.equal(r[2], e.latest_run_id);
    assert.equal(r[3], e.latest_run_date);
    tallyMatches(r.slice(4, 8), e.tally, `tally of ${e.experiment_id}`);
  });
  assert.equal(twin.experiments[0].runs, 3, 'three runs were made');
  await shot(page, 'overview');

  // ---- a filter on the experiments page: one test ----
  await page.selectOption('select[name=test]', 'welch_t');
  await Promise.all([page.waitForURL(/test=welch_t/), page.click('form.filters button')]);
  twin = await twinOf(page, lakeUrl);
  assert.equal(twin.filters.test, 'welch_t');
  const filtered = await cells(page, '#experiments tbody tr[data-experiment]');
  tallyMatches(filtered[0].slice(4, 8), twin.experiments[0].tally, 'filtered tally');
  // Welch runs once per metric per run: 2 metrics × 3 runs.
  assert.equal(twin.experiments[0].tally.decisions, 6);

  // ---- the experiment page, by its link ----
  await Promise.all([
    page.waitForURL(/\/experiments\/seed(\?|$)/),
    page.click('#experiments tbody tr[data-experiment="seed"] td a >> nth=0'),
  ]);
  twin = await twinOf(page, lakeUrl);
  assert.equal(twin.filters.test, 'welch_t', 'the filter follows the link');
  await page.goto(`${lakeUrl}/experiments/seed`);
  twin = await twinOf(page, lakeUrl);
  const byTest = await cells(page, '#by-test tbody tr:not(.total)');
  assert.equal(byTest.length, twin.by_test.length);
  twin.by_test.forEach((t, i) => {
    assert.deepEqual(byTest[i].slice(0, 2), [t.metric, t.test]);
    tallyMatches(byTest[i].slice(2, 6), t.tally, `${t.metric} × ${t.test}`);
  });
  const runs = await cells(page, '#runs tbody tr');
  assert.equal(runs.length, 3);
  twin.runs.forEach((r, i) => {
    assert.equal(runs[i][0], r.run_id);
    assert.equal(runs[i][1], r.run_date);
    tallyMatches(runs[i].slice(3, 7), r.tally, `run ${r.run_id}`);
  });
  await shot(page, 'experiment');

  // ---- a run page, by its link ----
  const runId = twin.runs[0].run_id;
  await Promise.all([
    page.waitForURL(new RegExp(`/runs/${runId}`)),
    page.click(`#runs a[href*="/runs/${runId}"]`),
  ]);
  twin = await twinOf(page, lakeUrl);
  assert.equal(twin.run_id, runId);
  const sections = await page.$$eval('section.metric', (s) => s.map((x) => x.dataset.metric));
  assert.deepEqual(sections, twin.metrics.map((m) => m.metric));
  for (const m of twin.metrics) {
    const sel = `section.metric[data-metric="${m.metric}"]`;
    const groups = await cells(page, `${sel} table.groups tbody tr`);
    assert.equal(groups.length, m.groups.length);
    m.groups.forEach((g, i) => {
      assert.equal(groups[i][0], g.group);
      assert.equal(Number(groups[i][1]), g.n, `n of ${m.metric}/${g.group}`);
      close(groups[i][2], g.mean, `mean of ${m.metric}/${g.group}`);
      close(groups[i][4], g.true_mean, `true mean of ${m.metric}/${g.group}`);
    });
    // Quantiles: per p, each group's true (● on an atom) and observed, each arm's differences.
    const quantiles = await cells(page, `${sel} table.quantiles tbody tr`);
    assert.equal(quantiles.length, m.quantiles.length);
    m.quantiles.forEach((q, i) => {
      const row = quantiles[i];
      assert.equal(Number(row[0]), q.p);
      q.groups.forEach((g, j) => {
        const what = `${m.metric}/${g.group} at p = ${q.p}`;
        assert.equal(row[1 + 2 * j].endsWith('●'), g.atom === true, `atom of ${what}`);
        close(row[1 + 2 * j].replace('●', ''), g.true_value, `true quantile of ${what}`);
        close(row[2 + 2 * j], g.observed, `observed quantile of ${what}`);
      });
      q.differences.forEach((d, j) => {
        const k = 1 + 2 * q.groups.length + 2 * j;
        close(row[k], d.true_difference, `true difference of ${d.treatment} at p = ${q.p}`);
        close(row[k + 1], d.observed_difference, `observed difference of ${d.treatment} at p = ${q.p}`);
      });
    });
    const decisions = await page.$$eval(`${sel} table.decisions tbody tr`, (trs) =>
      trs.map((tr) => ({
        test: tr.dataset.test,
        outcome: tr.dataset.outcome,
        wrong: tr.classList.contains('wrong'),
        cells: Array.from(tr.cells).map((c) => c.textContent.trim()),
      })),
    );
    assert.equal(decisions.length, m.decisions.length);
    m.decisions.forEach((d, i) => {
      const shown = decisions[i];
      assert.equal(shown.test, d.test);
      assert.equal(shown.outcome, d.outcome || '');
      assert.equal(shown.wrong, d.outcome === 'type_i' || d.outcome === 'type_ii');
      close(shown.cells[2], d.estimate, `estimate of ${d.test}`);
      pClose(shown.cells[4], d.p_value, `p of ${d.test}`);
      close(shown.cells[7], d.true_effect, `true effect of ${d.test}`);
    });
    // The forest plot: a mark per decision with an estimate, carrying the twin's numbers; a
    // wrong one labelled, not only red.
    const marks = await page.$$eval(`${sel} figure.forest g.forest-row`, (gs) =>
      gs.map((g) => ({
        ...g.dataset,
        label: g.querySelector('text.verdict')?.textContent.trim() || '',
      })),
    );
    const drawn = m.decisions.filter((d) => typeof d.estimate === 'number');
    assert.equal(marks.length, drawn.length, `forest rows of ${m.metric}`);
    marks.forEach((g) => {
      const d = drawn.find((x) => x.test === g.test && x.treatment === g.treatment);
      const what = `forest row ${m.metric}/${g.test}`;
      assert.ok(d, what);
      assert.equal(Number(g.estimate), d.estimate, `estimate of ${what}`);
      if (typeof d.true_effect === 'number') assert.equal(Number(g.trueEffect), d.true_effect, `truth of ${what}`);
      assert.equal(g.outcome, d.outcome || '', `outcome of ${what}`);
      const label = { type_i: '✗ type I', type_ii: '✗ type II' }[d.outcome] || '';
      assert.equal(g.label, label, `label of ${what}`);
    });
  }
  // Every picture of the run: its title, its text alternative, its caption.
  const pictures = await page.$$eval('figure.chart', (fs) =>
    fs.map((f) => {
      const svg = f.querySelector('svg');
      const ids = (svg.getAttribute('aria-labelledby') || '').split(' ');
      return {
        title: svg.querySelector(':scope > title')?.textContent || '',
        desc: svg.querySelector(':scope > desc')?.textContent || '',
        labelled: ids.length === 2 && ids.every((id) => svg.querySelector(`#${id}`)),
        caption: f.querySelector('figcaption')?.textContent || '',
      };
    }),
  );
  const withMarks = twin.metrics.filter((m) => m.decisions.some((d) => typeof d.estimate === 'number'));
  assert.equal(pictures.length, 1 + withMarks.length, 'the split and a forest plot per metric');
  pictures.forEach((p, i) => {
    assert.ok(p.title && p.desc && p.caption && p.labelled, `picture ${i}: ${JSON.stringify(p)}`);
  });
  const split = await page.$$eval('figure.srm g.srm-row', (gs) => gs.map((g) => ({ ...g.dataset })));
  assert.equal(split.length, twin.allocation.length);
  split.forEach((g, i) => {
    assert.equal(g.group, twin.allocation[i].group);
    assert.equal(Number(g.observed), twin.allocation[i].observed, `observed share of ${g.group}`);
    assert.equal(Number(g.planned), twin.allocation[i].planned, `planned share of ${g.group}`);
  });
  const steps = await cells(page, '#steps tbody tr');
  assert.equal(steps.length, twin.steps.length);
  assert.ok(steps.some((s) => s[0] === 'land' && s[3] === 'succeeded'), 'the run log has land');
  const params = await getJson(lakeUrl + (await page.getAttribute('#params', 'href')));
  assert.equal(params.blueprint_hash, twin.blueprint_hash, 'the params link is the run’s');
  await shot(page, 'run');

  // ---- a filter on the run page: one metric ----
  await page.selectOption('select[name=metric]', 'num_diff_items');
  await Promise.all([page.waitForURL(/metric=num_diff_items/), page.click('form.filters button')]);
  twin = await twinOf(page, lakeUrl);
  assert.deepEqual(
    await page.$$eval('section.metric', (s) => s.map((x) => x.dataset.metric)),
    ['num_diff_items'],
  );
  assert.deepEqual(twin.metrics.map((m) => m.metric), ['num_diff_items']);

  // ---- calibration ----
  res = await page.goto(`${lakeUrl}/calibration`);
  assert.equal(res.status(), 200);
  twin = await twinOf(page, lakeUrl);
  assert.equal(twin.publications.length, engines ? 3 : 2);
  assert.ok(await page.$('#chart svg'), 'a chart');
  const confusion = await cells(page, '#confusion tbody tr');
  assert.equal(confusion.length, twin.confusion.length);
  twin.confusion.forEach((c, i) => {
    assert.deepEqual(confusion[i].slice(0, 3), [c.metric, c.arm, c.test]);
    assert.deepEqual(
      confusion[i].slice(3).map(Number),
      [c.correct_accept, c.correct_reject, c.type_i, c.type_ii],
    );
  });
  const results = await cells(page, '#results tbody tr');
  assert.equal(results.length, twin.results.length);
  await shot(page, 'calibration');
  const other = twin.publications.find((p) => p.calibration_id !== twin.selected.calibration_id);
  await Promise.all([
    page.waitForURL(new RegExp(`calibration=${other.calibration_id}`)),
    page.click(`#publications a[href*="${other.calibration_id}"]`),
  ]);
  twin = await twinOf(page, lakeUrl);
  assert.equal(twin.selected.calibration_id, other.calibration_id);
  assert.ok(await page.$('#chart svg'), 'a chart of the other publication');
  await shot(page, twin.selected.sweep_param ? 'calibration-sweep' : 'calibration-other');

  // ---- engines, by the nav link ----
  await Promise.all([page.waitForURL(/\/engines$/), page.click('header a[href="/engines"]')]);
  twin = await twinOf(page, lakeUrl);
  if (engines) {
    assert.deepEqual(twin.engines, ['scipy']);
    assert.equal(twin.publications.length, 1);
    const sections = await page.$$('section.engine');
    assert.equal(sections.length, twin.publications.length, 'a section per publication');
    for (const p of twin.publications) {
      const sel = `section.engine[data-calibration="${p.calibration_id}"]`;
      // The picture first, with every test, then the table.
      const order = await page.$eval(sel, (s) =>
        Array.from(s.children).map((c) => c.tagName.toLowerCase() + (c.className ? '.' + c.className : '')),
      );
      assert.ok(order.indexOf('div.chart') >= 0 && order.indexOf('div.chart') < order.indexOf('table.engine-results'), `${order}`);
      const labels = await page.$$eval(`${sel} .chart svg text`, (ts) => ts.map((t) => t.textContent.trim()));
      for (const r of p.results) {
        assert.ok(labels.includes(r.test), `${r.test} is drawn`);
      }
      assert.ok(p.results.some((r) => r.engine === null), "abforge's tests beside");
      assert.ok(p.results.some((r) => r.test.startsWith('scipy:') && r.engine.startsWith('scipy ')));
      const rows = await cells(page, `${sel} table.engine-results tbody tr`);
      assert.equal(rows.length, p.results.length);
      p.results.forEach((r, i) => {
        const row = rows[i];
        const what = `${r.test} on ${r.metric}`;
        assert.deepEqual(row.slice(0, 4), [r.test, r.engine ?? 'abforge', r.metric, r.arm], what);
        assert.equal(row[4], r.null_true === null ? 'mixed' : String(r.null_true), `H0 of ${what}`);
        close(row[5].split(' ')[0], r.rejection_rate, `rejection rate of ${what}`);
        close(row[6], r.type_i_error, `type I of ${what}`);
        close(row[7], r.power, `power of ${what}`);
        close(row[8], r.ci_coverage, `coverage of ${what}`);
        close(row[9], r.mean_customers_at_stop, `customers at stop of ${what}`);
        close(row[10], r.bias, `bias of ${what}`);
        assert.equal(row[11], r.verdict, what);
      });
    }
    await shot(page, 'engines');
    await page.selectOption('select[name=engine]', 'scipy');
    await Promise.all([page.waitForURL(/engine=scipy/), page.click('form.filters button')]);
    twin = await twinOf(page, lakeUrl);
    assert.equal(twin.filters.engine, 'scipy');
    assert.equal(twin.publications.length, 1);
  } else {
    assert.deepEqual(twin.publications, []);
    assert.match(await page.textContent('main'), /--engine NAME --publish/);
  }

  // Nothing went wrong in the browser so far; from here on the 400 and 404 responses are
  // wanted (Chromium reports each as a console error).
  assert.deepEqual(problems, [], 'no console error, failed or outside request');

  // ---- bad input ----
  for (const [url, status, word] of [
    ['/experiments/nope', 404, 'nope'],
    ['/experiments/seed/runs/nope', 404, 'nope'],
    ['/?from=yesterday', 400, 'from'],
    ['/experiments/seed?colour=red', 400, 'colour'],
    ['/calibration?calibration=nope', 404, 'nope'],
    ['/engines?engine=nope', 404, 'nope'],
    ['/engines?engine=a%20b', 400, 'engine'],
  ]) {
    res = await page.goto(lakeUrl + url);
    assert.equal(res.status(), status, url);
    assert.match(await page.textContent('#failure'), new RegExp(word), url);
  }
  await page.goto(`${lakeUrl}/experiments/seed/runs/nope`);
  await shot(page, 'not-found');
  const bad = await getJson(`${lakeUrl}/v1/results?from=yesterday`, 400);
  assert.equal(bad.details[0].path, 'from');
  await getJson(`${lakeUrl}/v1/results/seed/runs/nope`, 404);

  // ---- no lake yet ----
  res = await page.goto(`${emptyUrl}/`);
  assert.equal(res.status(), 200);
  assert.match(await page.textContent('main'), /abforge pipeline run/);
  await shot(page, 'no-lake');
  res = await page.goto(`${emptyUrl}/calibration`);
  assert.equal(res.status(), 200);
  assert.match(await page.textContent('main'), /calibrate/);
  res = await page.goto(`${emptyUrl}/engines`);
  assert.equal(res.status(), 200);
  assert.match(await page.textContent('main'), /--engine NAME --publish/);
  const empty = await getJson(`${emptyUrl}/v1/results`);
  assert.equal(empty.lake, false);
  assert.deepEqual(empty.experiments, []);

  await browser.close();
  assert.deepEqual(
    problems.filter((p) => !/Failed to load resource: the server responded with a status of 40[04]/.test(p)),
    [],
    'no console error, failed or outside request',
  );
  console.log('dashboard e2e: every check passed');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
