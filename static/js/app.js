// What would otherwise be inline event handlers, which the Content-Security-Policy forbids.
// Delegated from the document, so it also covers content htmx swaps in.
document.addEventListener("change", (event) => {
  // The sub-account switcher goes as soon as a sub-account is chosen (a button without JS).
  if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
});

document.addEventListener("click", (event) => {
  const confirming = event.target.closest("[data-confirm]");
  if (confirming && !window.confirm(confirming.dataset.confirm)) event.preventDefault();
  if (event.target.closest("[data-print]")) window.print();
});

document.addEventListener("focusin", (event) => {
  if (event.target.matches("[data-select-on-focus]")) event.target.select();
});
