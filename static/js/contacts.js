// The contacts list: "select all on this page" and the count of ticked rows (no inline
// handlers: the CSP forbids them). Delegated, so it survives htmx swapping the results.
function updateSelected(form) {
  const ticked = form.querySelectorAll('input[name="contact"]:checked').length;
  const counter = form.querySelector('[data-testid="selected-count"]');
  if (counter) counter.textContent = `${ticked} selected`;
}

document.addEventListener("change", (event) => {
  const form = event.target.closest("form#bulk");
  if (!form) return;
  if (event.target.matches("[data-select-all]")) {
    form.querySelectorAll('input[name="contact"]').forEach((box) => { box.checked = event.target.checked; });
  }
  updateSelected(form);
});
