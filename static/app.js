// Small progressive enhancements; every page works without this file.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  source.select();
  const done = () => {
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  };
  if (navigator.clipboard) {
    navigator.clipboard.writeText(source.value).then(done, () => document.execCommand("copy") && done());
  } else if (document.execCommand("copy")) {
    done();
  }
});

// Hold deadlines count down live; the server-rendered text is the fallback.
const renderCountdowns = () => {
  document.querySelectorAll("[data-countdown]").forEach((node) => {
    const left = (Date.parse(node.dataset.countdown) - Date.now()) / 1000;
    if (left <= 0) { node.textContent = "expired"; return; }
    const days = Math.floor(left / 86400);
    const hours = Math.floor((left % 86400) / 3600);
    const minutes = Math.floor((left % 3600) / 60);
    node.textContent = days ? `${days} d ${hours} h left` : `${hours} h ${minutes} min left`;
  });
};
setInterval(renderCountdowns, 30000);
document.addEventListener("DOMContentLoaded", renderCountdowns);
document.addEventListener("htmx:afterSwap", renderCountdowns);

// A money action's confirmation arrives as a <dialog> inside the re-rendered panel: open it
// as a modal, so focus moves into it and Escape cancels. Without JavaScript the same
// confirmation is a page of its own.
const openConfirmations = () => {
  document.querySelectorAll("dialog[data-open-modal]").forEach((dialog) => {
    if (!dialog.open) dialog.showModal();
  });
};
document.addEventListener("htmx:afterSettle", openConfirmations);

// The browser's time zone, for the server to show staff times in when the person has chosen
// none on their account page (the server checks the name; without it, times show in UTC).
(() => {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  // IANA names need no escaping in a cookie (the server does not unescape one).
  if (!zone || !/^[A-Za-z0-9_+\/-]{1,64}$/.test(zone)) return;
  const cookie = `browser_time_zone=${zone}`;
  if (document.cookie.split("; ").includes(cookie)) return;
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `${cookie}; path=/; max-age=31536000; SameSite=Lax${secure}`;
})();
