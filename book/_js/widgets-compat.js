// Loaded on pages with embedded ipywidgets, before require.js and the widget manager
// (see nb_ipywidgets_js in _config.yml). Two fixes for @jupyter-widgets/html-manager 1.x:
//
// 1. The manager finds its fonts relative to the AMD module's URL, which require.js puts under the
//    page's folder (book/@jupyter-widgets/html-manager/dist/...). Point that module path at the
//    vendored copy in _static/widgets instead.
// 2. The manager typesets widget labels with MathJax 2's MathJax.Hub.Queue; the book uses MathJax 3.
//    Provide Hub.Queue on top of MathJax 3's typesetPromise (queued until MathJax is ready), turning
//    the labels' $...$ into \(...\) first.
(function () {
  "use strict";
  var here = document.currentScript && document.currentScript.src;
  if (here && typeof window.require === "undefined") {
    window.require = {
      paths: { "@jupyter-widgets/html-manager/dist": new URL("widgets", here).href },
    };
  }

  // Jupyter writes label math as $...$; MathJax 3 here only knows \(...\) and \[...\].
  function delimit(el) {
    if (!el || el.children.length || (el.textContent || "").indexOf("$") < 0) return;
    el.textContent = el.textContent
      .replace(/\$\$([^$]+)\$\$/g, "\\[$1\\]")
      .replace(/\$([^$]+)\$/g, "\\($1\\)");
  }

  var pending = [];
  function typeset(el) {
    delimit(el);
    if (window.MathJax && typeof window.MathJax.typesetPromise === "function") {
      window.MathJax.typesetPromise(el ? [el] : undefined).catch(function (err) {
        console.error("MathJax could not typeset a widget label:", err);
      });
    } else {
      pending.push(el);
    }
  }
  var hub = { Queue: function (cmd) { typeset(Array.isArray(cmd) ? cmd[2] : undefined); } };

  var config = (window.MathJax = window.MathJax || {});
  if (config.version) {
    config.Hub = config.Hub || hub; // MathJax already loaded
    return;
  }
  config.Hub = hub; // until MathJax 3 replaces window.MathJax with itself
  config.startup = config.startup || {};
  var ready = config.startup.ready;
  config.startup.ready = function () {
    if (ready) { ready(); } else { window.MathJax.startup.defaultReady(); }
    window.MathJax.Hub = hub;
    window.MathJax.startup.promise.then(function () { pending.splice(0).forEach(typeset); });
  };
})();
