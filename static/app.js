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
