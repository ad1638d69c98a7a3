// Haven: progressive enhancement only. Every form works without this file.
"use strict";
(function () {
  function csrfOf(form) {
    var field = form.querySelector("input[name=csrf_token]");
    return field ? field.value : "";
  }

  // Like button: toggle in place instead of reloading the page.
  document.querySelectorAll("form[data-like]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var state = form.querySelector("input[name=liked]");
      var body = new FormData(form);
      fetch(form.action, { method: "POST", body: body, headers: { "X-Requested-With": "haven", "X-CSRF-Token": csrfOf(form) }, credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (data) {
          var button = form.querySelector("button");
          state.value = data.liked ? "0" : "1";
          button.classList.toggle("on", data.liked);
          button.setAttribute("aria-pressed", data.liked ? "true" : "false");
          form.querySelector("[data-like-label]").textContent = data.liked ? "Liked" : "Like";
          form.querySelector("[data-like-count]").textContent = data.likes;
        })
        .catch(function () { form.submit(); });
    });
  });

  // Uploads: send with XMLHttpRequest to show progress; follow the redirect when done.
  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var bar = form.querySelector("progress");
      var status = form.querySelector(".status");
      var button = form.querySelector("button");
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.href);
      xhr.setRequestHeader("X-CSRF-Token", csrfOf(form));
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          bar.value = Math.round((e.loaded / e.total) * 100);
          status.textContent = "Uploading… " + bar.value + "%";
        }
      });
      xhr.addEventListener("load", function () {
        if (xhr.status < 400) {
          status.textContent = "Done.";
          window.location.assign(xhr.responseURL);
          return;
        }
        var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
        var msg = doc.querySelector(".error-message");
        status.textContent = "Upload failed: " + (msg ? msg.textContent : "error " + xhr.status);
        button.disabled = false;
      });
      xhr.addEventListener("error", function () {
        status.textContent = "Upload failed: the connection was lost.";
        button.disabled = false;
      });
      bar.hidden = false;
      button.disabled = true;
      status.textContent = "Uploading…";
      xhr.send(new FormData(form));
    });
  });

  // The model widget: show the answer under the form instead of on a page of its own.
  document.querySelectorAll("form[data-widget]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var out = form.querySelector("[data-widget-output]");
      var button = form.querySelector("button");
      button.disabled = true;
      out.hidden = false;
      out.textContent = "Computing…";
      fetch(form.action, { method: "POST", body: new FormData(form), headers: { "X-Requested-With": "haven", "X-CSRF-Token": csrfOf(form) }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) { out.textContent = data.error ? "Error: " + data.error : JSON.stringify(data.output, null, 2); })
        .catch(function () { out.textContent = "Error: the request failed."; })
        .then(function () { button.disabled = false; });
    });
  });

  // Copy buttons next to snippets and new tokens.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var code = button.parentElement.querySelector("pre code, code");
      if (code && navigator.clipboard) {
        navigator.clipboard.writeText(code.textContent).then(function () { button.textContent = "Copied"; });
      }
    });
  });

  // Selects that apply at once (the listing's sort).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();
