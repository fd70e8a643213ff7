// Sorts and filters the key table. Reads only the page itself.
(function () {
  "use strict";
  var table = document.getElementById("keys");
  if (!table || !table.tBodies.length) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var heads = table.tHead.rows[0].cells;
  var shown = document.getElementById("shown");
  var filters = {
    user: document.getElementById("f-user"),
    store: document.getElementById("f-store"),
    verdict: document.getElementById("f-verdict"),
    bucket: document.getElementById("f-bucket")
  };

  function cellKey(row, col, numeric) {
    var v = row.cells[col].textContent;
    return numeric ? parseFloat(v) || 0 : v.toLowerCase();
  }

  function sortBy(col, numeric, dir) {
    var keyed = rows.map(function (r, i) { return [cellKey(r, col, numeric), i, r]; });
    keyed.sort(function (a, b) {
      if (a[0] < b[0]) { return -dir; }
      if (a[0] > b[0]) { return dir; }
      return a[1] - b[1];
    });
    var frag = document.createDocumentFragment();
    keyed.forEach(function (k) { frag.appendChild(k[2]); });
    body.appendChild(frag);
  }

  Array.prototype.forEach.call(heads, function (th, col) {
    var button = th.querySelector("button");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
      sortBy(col, th.getAttribute("data-type") === "num", dir);
    });
  });

  function apply() {
    var q = filters.user.value.trim().toLowerCase();
    var s = filters.store.value, v = filters.verdict.value, b = filters.bucket.value;
    var n = 0;
    rows.forEach(function (r) {
      var ok = (!q || r.cells[0].textContent.toLowerCase().indexOf(q) >= 0 ||
                r.cells[2].textContent.toLowerCase().indexOf(q) >= 0) &&
               (!s || r.getAttribute("data-s") === s) &&
               (!v || r.getAttribute("data-v") === v) &&
               (!b || r.getAttribute("data-b") === b);
      r.hidden = !ok;
      if (ok) { n++; }
    });
    shown.textContent = n + " of " + rows.length + " keys shown";
  }

  Object.keys(filters).forEach(function (k) {
    filters[k].addEventListener(k === "user" ? "input" : "change", apply);
  });
  window.addEventListener("beforeprint", function () {
    Array.prototype.forEach.call(document.querySelectorAll("details"), function (d) { d.open = true; });
  });
  apply();
})();
