// The dashboard's only script: keyboard shortcuts, the health banner and the live tail. Every page
// but the live tail works without it; there is no inline script (the Content-Security-Policy).
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
// Live tail (the /tail page): events from /tail/stream as they are stored, newest first.
(function () {
  var rows = document.getElementById('rows');
  if (!document.getElementById('tail') || !rows || !window.EventSource) return;
  var input = document.querySelector('form.search input[name=q]');
  var q = input ? input.value : '';
  var status = document.getElementById('status');
  var paused = false;
  var es = new EventSource('/tail/stream?q=' + encodeURIComponent(q));
  status.textContent = 'Connecting...';
  es.onopen = function () { if (!paused) status.textContent = 'Live'; };
  function cell(tr, text) { var td = document.createElement('td'); td.textContent = text; tr.appendChild(td); }
  es.addEventListener('event', function (m) {
    if (paused) return;
    var e = JSON.parse(m.data);
    var tr = document.createElement('tr');
    cell(tr, e.time); cell(tr, e.sender); cell(tr, e.host); cell(tr, e.message);
    rows.insertBefore(tr, rows.firstChild);
    while (rows.children.length > 500) rows.removeChild(rows.lastChild);
    status.textContent = 'Live';
  });
  es.addEventListener('skipped', function (m) { status.textContent = m.data + ' event(s) skipped (rate cap)'; });
  es.onerror = function () { status.textContent = 'Disconnected; retrying...'; };
  document.getElementById('pause').addEventListener('click', function () {
    paused = !paused; this.textContent = paused ? 'Resume' : 'Pause';
    status.textContent = paused ? 'Paused' : 'Live';
  });
})();
