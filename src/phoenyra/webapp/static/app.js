// Placeholder client: the CSRF token for fetch calls (header X-CSRFToken). The dashboard's
// live view (socket.io-client, charts) is built on top of this.
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrfToken = meta ? meta.content : "";
  window.phoenyra = {
    csrfToken: csrfToken,
    api: function (path, options) {
      const opts = Object.assign({ credentials: "same-origin" }, options || {});
      opts.headers = Object.assign({ "X-CSRFToken": csrfToken, Accept: "application/json" },
        opts.headers || {});
      if (opts.json !== undefined) {
        opts.body = JSON.stringify(opts.json);
        opts.headers["Content-Type"] = "application/json";
        delete opts.json;
      }
      return fetch(path, opts);
    },
  };
})();
