// Keyboard shortcuts on the task page: S same person, D not the same, K skip.
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName);
  if (typing) return;
  const button = document.querySelector(`#decide button[data-key="${event.key.toLowerCase()}"]`);
  if (button) {
    event.preventDefault();
    button.click();
  }
});

// The review queue: why each task waits, fetched once the page is shown.
(async () => {
  const cells = [...document.querySelectorAll("td.reasons[data-task]")];
  if (!cells.length) return;
  const query = cells.map((cell) => `task=${encodeURIComponent(cell.dataset.task)}`).join("&");
  let reasons = {};
  try {
    const answer = await fetch(`/ui/queue/reasons?${query}`, { credentials: "same-origin" });
    if (answer.ok) reasons = await answer.json();
  } catch (error) {
    return;
  }
  for (const cell of cells) {
    const found = reasons[cell.dataset.task];
    cell.textContent = "";
    if (!found) continue;
    for (const [kind, words] of [["for", found.for], ["against", found.against]]) {
      if (!words.length) continue;
      const line = document.createElement("span");
      line.className = kind;
      line.textContent = `${kind}: ${words.join(", ")}`;
      cell.appendChild(line);
    }
  }
  document.body.dataset.reasons = "shown";
})();
