// The public pages that mailed links open (/{org}/accept, /verify, /reset). The
// link carries its token in the URL fragment, which browsers never send to a
// server; this script reads it, removes it from the address bar, and posts it in
// the body of the form's request to the same path.
(function () {
  "use strict";
  var form = document.getElementById("token-form");
  var outcome = document.getElementById("outcome");
  var params = new URLSearchParams(window.location.hash.slice(1));
  var token = params.get("token");
  if (window.history && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.pathname);
  }
  function show(text, ok) {
    outcome.hidden = false;
    outcome.textContent = text;
    outcome.className = ok ? "ok" : "error";
  }
  if (!token) {
    form.hidden = true;
    show("This link has no token. Open the link from your mail again.", false);
    return;
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = { token: token };
    var fields = form.querySelectorAll("input");
    for (var i = 0; i < fields.length; i++) {
      var input = fields[i];
      if (input.value === "") continue;
      if (input.name === "first" || input.name === "last") {
        body.name = body.name || { first: "", last: "" };
        body.name[input.name] = input.value;
      } else {
        body[input.name] = input.value;
      }
    }
    var button = form.querySelector("button");
    button.disabled = true;
    fetch(window.location.pathname, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "omit",
      body: JSON.stringify(body)
    })
      .then(function (res) {
        return res.json().then(function (json) { return { ok: res.ok, json: json }; });
      })
      .then(function (r) {
        if (r.ok) {
          form.hidden = true;
          show(r.json.data && r.json.data.message ? r.json.data.message : "Done.", true);
        } else {
          var reason = r.json.reason || "Something went wrong.";
          if (r.json.faults && r.json.faults.length) {
            reason = r.json.faults.map(function (f) { return f.reason; }).join(" ");
          }
          show(reason, false);
          button.disabled = false;
        }
      })
      .catch(function () {
        show("The server could not be reached. Try again.", false);
        button.disabled = false;
      });
  });
})();
