// What would otherwise be inline event handlers, which the Content-Security-Policy forbids.
// Delegated from the document, so it also covers content htmx swaps in.
document.addEventListener("change", (event) => {
  // A select that goes as soon as something is chosen (a button without JS).
  if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
});

function setMenu(sidebar, open) {
  sidebar.classList.toggle("open", open);
  const toggle = sidebar.querySelector("[data-menu-toggle]");
  if (toggle) toggle.setAttribute("aria-expanded", String(open));
}

document.addEventListener("click", (event) => {
  const confirming = event.target.closest("[data-confirm]");
  if (confirming && !window.confirm(confirming.dataset.confirm)) event.preventDefault();
  if (event.target.closest("[data-print]")) window.print();
  // The sidebar's Menu button below 900 px (without JS it is a link to #sidebar-panel).
  const toggle = event.target.closest("[data-menu-toggle]");
  if (toggle) {
    event.preventDefault();
    const sidebar = toggle.closest("[data-sidebar]");
    setMenu(sidebar, !sidebar.classList.contains("open"));
  }
  const dismiss = event.target.closest("[data-dismiss]");
  if (dismiss) dismiss.closest(".toast").classList.add("hiding");
});

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const sidebar = document.querySelector("[data-sidebar].open");
  if (sidebar) setMenu(sidebar, false);
});

document.addEventListener("focusin", (event) => {
  if (event.target.matches("[data-select-on-focus]")) event.target.select();
});

// Toasts fade after a while (errors stay longer); they stay in the page, hidden, for screen readers' history.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".toast").forEach((toast) => {
    const ms = toast.hasAttribute("data-autohide") ? 6000 : 15000;
    setTimeout(() => toast.classList.add("hiding"), ms);
  });
});
