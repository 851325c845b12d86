// Agents see only their own verifications, on the console, in the history, on the event stream
// and by id; a supervisor sees everyone's.
import { readFileSync } from "node:fs";

import { type Page, expect, test } from "@playwright/test";

import {
  AGENT,
  BOB,
  CAROL,
  SUPERVISOR,
  cancel,
  cardOf,
  eventsText,
  followEvents,
  signIn,
  startVerification,
  watch,
} from "./support";

/** Calls one of the console's server functions from `page`, as the page itself would. */
async function serverFunction(page: Page, name: string, form: Record<string, string>) {
  return page.evaluate(
    async ({ name, form }) => {
      const response = await fetch(`/api/${name}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(form).toString(),
      });
      return { status: response.status, body: await response.text() };
    },
    { name, form },
  );
}

test("an agent cannot see a supervisor's verification; the supervisor sees the agent's", async ({
  browser,
  context,
  page: agent,
}) => {
  const agentProblems = watch(context);
  const supervisorContext = await browser.newContext();
  const supervisorProblems = watch(supervisorContext);
  const supervisor = await supervisorContext.newPage();

  await signIn(supervisor, SUPERVISOR);
  await expect(supervisor.getByText("Supervisor", { exact: true })).toBeVisible();
  await expect(supervisor.getByRole("heading", { name: "All verifications" })).toBeVisible();
  await signIn(agent, AGENT);
  await expect(agent.getByRole("heading", { name: "Your verifications" })).toBeVisible();
  await followEvents(agent);

  // The supervisor starts one, then the agent.
  const theirs = await startVerification(supervisor, CAROL.id, "Link / QR code");
  const mine = await startVerification(agent, BOB.id, "Link / QR code");

  // The supervisor's history picks the agent's up live, with the agent's name; no card (cards
  // are for one's own verifications).
  const row = supervisor.getByTestId("history").locator(`tr[data-flow="${mine.flow.id}"]`);
  await expect(row).toContainText(AGENT.name);
  await expect(row).toContainText(mine.flow.binding_code);
  await expect(row).toHaveAttribute("data-status", "pending");
  await expect(cardOf(supervisor, mine.flow.id)).toHaveCount(0);

  // By id, the agent can neither cancel the supervisor's verification nor page from it.
  const cancelled = await serverFunction(agent, "cancel-verification", { flow_id: theirs.flow.id });
  expect(cancelled.status, cancelled.body).toBeGreaterThanOrEqual(400);
  expect(cancelled.body).not.toContain(theirs.flow.binding_code);
  const paged = await serverFunction(agent, "verifications", { before: theirs.flow.id });
  expect(paged.status, paged.body).toBeGreaterThanOrEqual(400);
  expect(paged.body).not.toContain(theirs.flow.binding_code);
  await expect(theirs.card).toHaveAttribute("data-status", "pending");

  // The supervisor cancels theirs, then the agent cancels theirs: once the agent's console has
  // the second, the stream has sent everything before it, the first included had it been sent.
  await cancel(theirs.card);
  await cancel(mine.card);
  await expect(row).toHaveAttribute("data-status", "cancelled");
  await expect
    .poll(async () => eventsText(agent), { message: "the agent's stream has their cancellation" })
    .toMatch(new RegExp(`event: cancelled\\r?\\ndata: \\{[^\\n]*"id":"${mine.flow.id}"`));
  const stream = await eventsText(agent);
  expect(stream).toContain(mine.flow.id);
  expect(stream).not.toContain(theirs.flow.id);
  expect(stream).not.toContain(theirs.flow.binding_code);

  for (const when of ["live", "after a reload"]) {
    if (when === "after a reload") {
      await agent.reload();
      await expect(agent.getByTestId("history")).toBeVisible();
    }
    await expect(cardOf(agent, theirs.flow.id), when).toHaveCount(0);
    await expect(agent.locator(`[data-flow="${theirs.flow.id}"]`), when).toHaveCount(0);
    await expect(agent.getByTestId("history"), when).not.toContainText(theirs.flow.binding_code);
    await expect(agent.getByTestId("history"), when).not.toContainText(SUPERVISOR.name);
    await expect(
      agent.getByTestId("history").locator(`tr[data-flow="${mine.flow.id}"]`),
    ).toBeVisible();
  }

  // The supervisor's history, read afresh, has both, each with its agent.
  await supervisor.reload();
  const history = supervisor.getByTestId("history");
  await expect(history.locator(`tr[data-flow="${mine.flow.id}"]`)).toContainText(AGENT.name);
  await expect(history.locator(`tr[data-flow="${theirs.flow.id}"]`)).toContainText(SUPERVISOR.name);

  // Only the supervisor gets the audit export; the file has both verifications, each with its
  // agent, and no secret.
  await expect(agent.getByTestId("audit-export")).toHaveCount(0);
  const exported = supervisor.waitForEvent("download");
  await supervisor.getByRole("button", { name: "Export CSV" }).click();
  const download = await exported;
  expect(download.suggestedFilename()).toMatch(/^countersign-audit-\d{4}-\d\d-\d\d-to-\d{4}-\d\d-\d\d\.csv$/);
  const csv = readFileSync(await download.path(), "utf8");
  const lines = csv.split("\r\n");
  expect(lines[0]).toMatch(
    /^"flow_id","started_at","agent","agent_id","customer","customer_type","channel",/,
  );
  const rowOf = (id: string) => lines.find((line) => line.startsWith(`"${id}",`)) ?? "";
  expect(rowOf(mine.flow.id)).toContain(`,"${AGENT.name}",`);
  expect(rowOf(mine.flow.id)).toContain(`,"${mine.flow.binding_code}",`);
  expect(rowOf(theirs.flow.id)).toContain(`,"${SUPERVISOR.name}",`);
  expect(csv).not.toMatch(/eyJ[\w-]+\.[\w-]+/);

  // The refused calls above are logged by the browser as failed loads; nothing else may be.
  expect(
    agentProblems.filter((p) => !/Failed to load resource: .* status of 4\d\d/.test(p)),
  ).toEqual([]);
  expect(supervisorProblems).toEqual([]);
  await supervisorContext.close();
});
