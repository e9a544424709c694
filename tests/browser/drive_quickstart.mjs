// Drives 01_quickstart.ipynb in a running JupyterLab with Debian's headless chromium (playwright-core, no download).
//
//   node drive_quickstart.mjs '{"lab": "http://127.0.0.1:PORT", "token": "...", "out": "DIR", ...}'
//
// Runs the notebook's cells one by one, uses every widget the way a person would (grid builder limit, Run button,
// live leaderboard, sort + compare, thumbs up + comment + save, chunker change), saves screenshots into `out`, and
// prints one JSON object with what it saw. With "mlflow" in the config it opens a question's trace in the MLflow UI
// instead and reports whether the human feedback given in the inspector shows there.
import { chromium } from "playwright-core";

const config = JSON.parse(process.argv[2]);
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--no-first-run"];
const report = { steps: [], errors: [] };
const t0 = Date.now();
const step = (name, extra = {}) => report.steps.push({ name, t: (Date.now() - t0) / 1000, ...extra });

const browser = await chromium.launch({ executablePath: config.chromium || "/usr/bin/chromium", headless: true, args: CHROMIUM_ARGS });
const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
page.setDefaultTimeout(60_000);

async function shot(name, locator) {
  const path = `${config.out}/${name}.png`;
  if (locator) await locator.screenshot({ path });
  else await page.screenshot({ path });
  return path;
}

async function text(selector) {
  return (await page.locator(selector).first().innerText()).trim();
}

async function dismissNews() {
  const no = page.locator(".jp-toast-button:has-text('No')");
  if (await no.count()) await no.first().click().catch(() => {});
}

async function acceptKernelDialog() {
  const select = page.locator(".jp-Dialog:has-text('Select Kernel') .jp-mod-accept");
  if (await select.count()) {
    await select.first().click().catch(() => {});
    step("accepted the kernel dialog");
    await page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").waitFor({ timeout: 120_000 });
  }
}

async function runNotebook() {
  await page.goto(`${config.lab}/lab/tree/${config.notebook}?token=${config.token}`);
  const cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell");
  await page.waitForFunction((n) => document.querySelectorAll(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").length === n,
    config.cells, { timeout: 120_000 });
  await page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").waitFor({ timeout: 120_000 });
  // JupyterLab may ask for a kernel (a race with reading the kernel specs): accept the preselected one.
  await page.waitForTimeout(2_000);
  await acceptKernelDialog();
  step("notebook open", { cells: await cells.count() });
  await dismissNews();

  const runCell = async (i, timeout = 300_000) => {
    await acceptKernelDialog();
    const cell = cells.nth(i);
    await cell.scrollIntoViewIfNeeded();
    await cell.locator(".jp-Cell-inputArea").click({ position: { x: 5, y: 5 } });
    await page.keyboard.press("Escape");
    await page.keyboard.press("Shift+Enter");
    if (!(await cell.evaluate((el) => el.classList.contains("jp-CodeCell")))) return "";
    await page.waitForFunction((el) => /\[\d+\]/.test(el.querySelector(".jp-InputPrompt")?.textContent || ""),
      await cell.elementHandle(), { timeout, polling: 250 });
    const error = cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']");
    if (await error.count()) report.errors.push({ cell: i, error: (await error.first().innerText()).slice(0, 2000) });
    return (await cell.locator(".jp-Cell-outputArea").innerText().catch(() => "")).trim();
  };
  const cellIndex = async (needle) => {
    const n = await cells.count();
    for (let i = 0; i < n; i++) if ((await cells.nth(i).locator(".jp-Cell-inputArea").innerText()).includes(needle)) return i;
    throw new Error(`no cell containing ${needle}`);
  };

  // 1. Grid builder: read the summary, set the question limit to 1 the way a person types it.
  const panelCell = await cellIndex("panel = RunPanel(");
  for (let i = 0; i <= panelCell; i++) await runCell(i);
  const builder = page.locator(".wb-grid-builder");
  await builder.waitFor();
  report.gridSummaryBefore = await text(".wb-grid-summary");
  const limit = builder.locator(".widget-text:has(label:text-is('limit')) input");
  await limit.fill("1");
  await limit.press("Enter");
  await page.waitForFunction(() => document.querySelector(".wb-grid-summary")?.innerText.includes("= 2 model calls"), null, { timeout: 30_000 });
  report.gridSummaryAfter = await text(".wb-grid-summary");
  await builder.getByText("Chunkers", { exact: true }).click();  // open a section: size/overlap sliders per chunker
  report.screenshots = [await shot("01-grid-builder", builder)];
  step("grid builder", { summary: report.gridSummaryAfter });

  // 2. Run panel: press Run, wait for the live leaderboard to fill.
  const panel = page.locator(".wb-run-panel");
  await panel.locator("button.wb-run-button").click();
  await page.waitForFunction(() => document.querySelector(".wb-run-status")?.innerText.startsWith("Running"), null, { timeout: 30_000 });
  step("run clicked");
  const rows = panel.locator(".wb-live-leaderboard tbody tr");
  await page.waitForFunction(() => document.querySelectorAll(".wb-live-leaderboard tbody tr").length >= 1, null, { timeout: 900_000, polling: 500 });
  report.firstRowAt = (Date.now() - t0) / 1000;
  report.rowsWhenFirstSeen = await rows.count();
  await page.waitForFunction(() => (document.querySelector(".wb-run-status")?.innerText || "").startsWith("Done"), null, { timeout: 900_000, polling: 500 });
  report.leaderboardRows = await rows.count();
  report.runStatus = await text(".wb-run-status");
  report.runLinks = await panel.locator(".wb-live-leaderboard a").evaluateAll((as) => as.map((a) => a.href));
  report.stageLabels = await panel.locator(".widget-hprogress").evaluateAll((els) => els.map((e) => e.parentElement.innerText.replace(/\s+/g, " ").trim()));
  report.screenshots.push(await shot("02-run-panel", panel));
  report.screenshots.push(await shot("02-run-panel-page"));
  step("sweep done", { rows: report.leaderboardRows });

  // The next cell returns the finished sweep (it does not run it again).
  const resultCell = await cellIndex("result = panel.run()");
  report.resultOutput = await runCell(resultCell);

  // 3. Leaderboard: sort by mrr, compare the two variants.
  const boardCell = await cellIndex("board = Leaderboard(");
  for (let i = resultCell + 1; i <= boardCell; i++) await runCell(i);
  const board = page.locator(".wb-leaderboard");
  await board.waitFor();
  await board.locator(".widget-dropdown:has(label:text-is('sort by')) select").selectOption("mrr");
  report.leaderboardTableRows = await board.locator(".wb-leaderboard-table tbody tr").count();
  await board.locator("button.wb-compare-button").click();
  await page.waitForFunction(() => (document.querySelector(".wb-comparison")?.innerText || "").includes("Baseline"), null, { timeout: 120_000 });
  report.comparison = (await text(".wb-comparison")).slice(0, 600);
  report.screenshots.push(await shot("03-leaderboard", board));
  step("leaderboard compared");

  // 4. Question inspector: thumbs up + comment + save on the first answer.
  const inspectorCell = await cellIndex("inspector = QuestionInspector(");
  for (let i = boardCell + 1; i <= inspectorCell; i++) await runCell(i);
  const card = page.locator(".wb-inspector .wb-answer-card").first();
  await card.waitFor();
  report.question = await text(".wb-inspector .wb-question");
  report.cards = await page.locator(".wb-inspector .wb-answer-card").count();
  await card.locator(".wb-thumbs button:has-text('good')").click();
  await card.locator(".wb-comment input").fill(config.comment);
  await card.locator("button.wb-feedback-button").click();
  await page.waitForFunction(() => (document.querySelector(".wb-answer-card .wb-feedback-status")?.innerText || "").includes("saved"), null, { timeout: 60_000 });
  report.feedbackStatus = await card.locator(".wb-feedback-status").innerText();
  await card.locator("details summary").click();
  report.screenshots.push(await shot("04-question-inspector", page.locator(".wb-inspector")));
  step("feedback saved", { status: report.feedbackStatus });

  // 5. Chunk explorer: switch the strategy, the count and boundaries follow.
  const explorerCell = await cellIndex("explorer = ChunkExplorer(");
  for (let i = inspectorCell + 1; i <= explorerCell; i++) await runCell(i);
  const explorer = page.locator(".wb-chunk-explorer");
  await explorer.waitFor();
  report.chunkSummaryBefore = await text(".wb-chunk-summary");
  await explorer.locator(".widget-dropdown:has(label:text-is('strategy')) select").selectOption("recursive");
  await page.waitForFunction((before) => document.querySelector(".wb-chunk-summary")?.innerText.trim() !== before,
    report.chunkSummaryBefore, { timeout: 60_000 });
  report.chunkSummaryAfter = await text(".wb-chunk-summary");
  report.histogramBars = await explorer.locator(".wb-hist div").count();
  report.boundarySpans = await explorer.locator(".wb-doc span").count();
  report.screenshots.push(await shot("05-chunk-explorer", explorer));
  step("chunk explorer");

  // The rest of the notebook.
  const n = await cells.count();
  for (let i = explorerCell + 1; i < n; i++) await runCell(i);
  await page.keyboard.press("Control+s");
  step("notebook done");
}

async function checkMlflow() {
  // The question's trace in the MLflow UI: its assessments list the human rating (HUMAN source) with the comment.
  report.screenshots = report.screenshots || [];
  await page.goto(config.mlflow.url);
  await page.waitForFunction(() => document.body.innerText.includes("rag_pipeline"), null, { timeout: 180_000, polling: 1000 });
  await page.locator("button:has-text('Assess')").first().click();
  const rating = page.getByText(config.mlflow.expect, { exact: true }).last();
  await rating.waitFor({ timeout: 60_000 });
  await rating.scrollIntoViewIfNeeded();
  report.mlflowShowsFeedback = await rating.isVisible();
  const title = await rating.boundingBox();
  const value = page.getByText("True", { exact: true }).last();  // the rating's value, below its name
  const row = await value.boundingBox();
  if (title && row) await page.mouse.click(title.x + 12, row.y + row.height / 2);  // the chevron that expands it
  report.mlflowShowsComment = await page.getByText(config.comment, { exact: true }).first().waitFor({ timeout: 30_000 })
    .then(() => true).catch(() => false);
  report.screenshots.push(await shot("06-mlflow-trace-feedback"));
  step("mlflow ui", { feedback: report.mlflowShowsFeedback, comment: report.mlflowShowsComment });
}

try {
  if (config.notebook) await runNotebook();
  if (config.mlflow) await checkMlflow();
} catch (err) {
  report.errors.push({ fatal: String(err && err.stack || err).slice(0, 3000) });
  report.screenshots = [...(report.screenshots || []), await shot("failure").catch(() => "")];
} finally {
  report.seconds = (Date.now() - t0) / 1000;
  await browser.close();
  console.log(JSON.stringify(report));
}
