/* Make every content table sortable (tablesort, vendored in this folder; MIT licence). */
(function () {
  function sortable() {
    document.querySelectorAll("article table:not([data-sortable-done])").forEach(function (table) {
      var head = table.querySelector("thead tr");
      if (!head || typeof Tablesort === "undefined") return;
      head.setAttribute("data-sort-method", "thead");
      new Tablesort(table);
      table.setAttribute("data-sortable-done", "1");
    });
  }
  if (typeof document$ !== "undefined" && document$.subscribe) {
    document$.subscribe(sortable);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", sortable);
  } else {
    sortable();
  }
})();
