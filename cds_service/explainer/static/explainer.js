// The "Print this page" button (no inline script: the page's CSP allows only this file).
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("print");
  if (button) button.addEventListener("click", () => window.print());
  document.body.dataset.ready = "true";
});
