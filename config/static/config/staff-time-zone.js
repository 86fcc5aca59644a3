// The Time zone page (config/templates/admin/staff_time_zone.html): offers the browser's
// own zone when it is in the list and not the one chosen. The page works without this.
document.addEventListener("DOMContentLoaded", () => {
  const hint = document.getElementById("staff-time-zone-browser");
  const select = document.getElementById("id_time_zone");
  if (!hint || !select) return;
  let zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return;
  }
  const listed = Array.from(select.options).some((option) => option.value === zone);
  if (!zone || !listed || select.value === zone) return;
  hint.querySelector("[data-zone]").textContent = zone.replaceAll("_", " ");
  hint.hidden = false;
  hint.querySelector("button").addEventListener("click", () => {
    select.value = zone;
    hint.hidden = true;
    select.focus();
  });
});
