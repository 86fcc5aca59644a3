// The care ticket page in the admin: its canned-reply insert (see ticket.html).
(function () {
  "use strict";
  // Inserts the chosen canned reply, already filled for this ticket, at the cursor.
  // Without script, the same button posts and the page comes back with the text added.
  var form = document.getElementById("reply-form");
  var data = document.getElementById("canned-texts");
  if (!form || !data) { return; }
  var texts = JSON.parse(data.textContent);
  var select = form.querySelector("[name=reply-canned]");
  var body = form.querySelector("[name=reply-body]");
  var button = form.querySelector("[name=insert]");
  if (!select || !body || !button) { return; }
  button.addEventListener("click", function (event) {
    event.preventDefault();
    var text = texts[select.value];
    if (text === undefined) { return; }
    var start = body.selectionStart, end = body.selectionEnd;
    body.value = body.value.slice(0, start) + text + body.value.slice(end);
    body.focus();
    body.selectionStart = body.selectionEnd = start + text.length;
  });
}());
