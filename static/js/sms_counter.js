// The live character and segment count under every message box (textarea[data-sms-counter]).
// Counts as messaging/sms.py does (GSM-7: 160 / 153 per part, extension characters twice;
// otherwise UCS-2: 70 / 67 in UTF-16 units) and flags a body over the provider's 1,600-character
// limit (Twilio error 21617). The server checks the same limit on every send: this only tells
// the user early. On "input", so paste, autofill and drag-and-drop update it too.
(() => {
  const MAX = 1600;
  const BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  const EXTENDED = "^{}\\[~]|€\f";

  function count(text) {
    const chars = Array.from(text);
    const gsm = chars.every((ch) => BASIC.includes(ch) || EXTENDED.includes(ch));
    const units = chars.map((ch) => (gsm ? (EXTENDED.includes(ch) ? 2 : 1) : ch.codePointAt(0) > 0xffff ? 2 : 1));
    const total = units.reduce((a, b) => a + b, 0);
    const [single, perPart] = gsm ? [160, 153] : [70, 67];
    let segments = 0;
    if (total > 0 && total <= single) segments = 1;
    if (total > single) {
      segments = 1;
      let used = 0;
      for (const unit of units) {
        if (used + unit > perPart) { segments += 1; used = 0; }
        used += unit;
      }
    }
    return { length: chars.length, segments, encoding: gsm ? "GSM-7" : "UCS-2" };
  }

  function output(box) {
    let out = document.getElementById(box.id + "-count");
    if (!out) {
      out = document.createElement("p");
      out.id = box.id + "-count";
      out.className = "sms-counter muted";
      out.setAttribute("aria-live", "polite");
      out.dataset.testid = "sms-counter";
      box.insertAdjacentElement("afterend", out);
    }
    return out;
  }

  function update(box) {
    const c = count(box.value);
    const out = output(box);
    const over = c.length > MAX;
    out.textContent = `${c.length.toLocaleString("en-US")} / ${MAX.toLocaleString("en-US")} characters · ` +
      `${c.segments} segment${c.segments === 1 ? "" : "s"} (${c.encoding})` +
      (over ? ` — ${(c.length - MAX).toLocaleString("en-US")} too many: the phone provider refuses it` : "");
    out.classList.toggle("over", over);
    box.setAttribute("aria-invalid", over ? "true" : "false");
  }

  const all = (root) => root.querySelectorAll("textarea[data-sms-counter]").forEach(update);
  document.addEventListener("input", (event) => {
    if (event.target.matches("textarea[data-sms-counter]")) update(event.target);
  });
  document.addEventListener("DOMContentLoaded", () => all(document));
  document.addEventListener("htmx:load", (event) => all(event.target)); // swapped-in send boxes
})();
