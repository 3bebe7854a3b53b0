// Keyboard shortcuts; every page works without this file.
// "/" focuses the query box, Escape leaves it; "g" then o/s/t/a/r goes to a page.
(function () {
  var pending = false;
  var pages = { o: '/', s: '/search', t: '/tail', a: '/alerts', r: '/rules' };
  document.addEventListener('keydown', function (e) {
    var t = e.target;
    var typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT');
    if (typing) { if (e.key === 'Escape') t.blur(); return; }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === '/') {
      var q = document.querySelector('input[name=q]');
      if (q) { e.preventDefault(); q.focus(); q.select(); }
    } else if (pending && pages[e.key]) {
      window.location.href = pages[e.key];
    }
    pending = e.key === 'g';
  });
})();
// Health banner: while /healthz answers 503 (a full disk, a failing store), every page says so
// at the top, with the reason the server gives.
(function () {
  if (!document.querySelector('header.top') || !window.fetch) return;
  fetch('/healthz', { cache: 'no-store' }).then(function (r) {
    if (r.status !== 503) return null;
    return r.text();
  }).then(function (text) {
    if (!text) return;
    var p = document.createElement('p');
    p.className = 'banner';
    p.setAttribute('role', 'alert');
    p.textContent = 'Picket is degraded: ' + text.replace(/^degraded:\s*/, '').trim();
    var main = document.querySelector('main');
    if (main) main.insertBefore(p, main.firstChild);
  }).catch(function () {});
})();
