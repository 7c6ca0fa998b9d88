/* Make every content table sortable (tablesort, vendored in this folder; MIT licence), and label its
   cells with their column's header (data-label) for the stacked phone layout in site.css. A table
   with a column headed "Verdict" keeps that column in view (data-verdict) and stacks on a phone
   (data-stack). */
(function () {
  function annotate(table) {
    var head = table.tHead && table.tHead.rows[0];
    if (!head) return;
    var labels = [], verdict = -1, i;
    for (i = 0; i < head.cells.length; i++) {
      labels.push(head.cells[i].textContent.replace(/\s+/g, " ").trim());
      if (/^verdict$/i.test(labels[i])) verdict = i;
    }
    [].forEach.call(table.tBodies, function (body) {
      [].forEach.call(body.rows, function (row) {
        [].forEach.call(row.cells, function (cell, j) {
          if (labels[j]) cell.setAttribute("data-label", labels[j]);
          if (j === verdict) cell.setAttribute("data-verdict", "");
        });
      });
    });
    if (verdict >= 0) {
      head.cells[verdict].setAttribute("data-verdict", "");
      table.setAttribute("data-stack", "");
    }
  }
  function prepare() {
    document.querySelectorAll("article table:not([class]):not([data-sortable-done])").forEach(function (table) {
      annotate(table);
      var head = table.querySelector("thead tr");
      if (!head || typeof Tablesort === "undefined") return;
      head.setAttribute("data-sort-method", "thead");
      new Tablesort(table);
      table.setAttribute("data-sortable-done", "1");
    });
    document.documentElement.setAttribute("data-tables-ready", "1");
  }
  if (typeof document$ !== "undefined" && document$.subscribe) {
    document$.subscribe(prepare);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", prepare);
  } else {
    prepare();
  }
})();
