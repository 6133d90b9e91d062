// Reads one iCalendar feed on standard input with ical.js and prints, as JSON, every VEVENT's
// UID with its start and end as UTC instants (ISO 8601), as a calendar app built on ical.js
// would place them. The times are resolved through the feed's own VTIMEZONE components only:
// ical.js's TimezoneService is left empty, so no built-in zone data can hide a wrong VTIMEZONE.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const text = readFileSync(0, "utf8");
const calendar = new ICAL.Component(ICAL.parse(text));
const missing = [];
const events = calendar.getAllSubcomponents("vevent").map((component) => {
  const event = new ICAL.Event(component);
  for (const name of ["dtstart", "dtend"]) {
    const tzid = component.getFirstProperty(name).getParameter("tzid");
    if (tzid && !calendar.getTimeZoneByID(tzid)) missing.push(tzid);
  }
  return {
    uid: event.uid,
    start: event.startDate.toJSDate().toISOString(),
    end: event.endDate.toJSDate().toISOString(),
  };
});
if (missing.length) {
  process.stderr.write(`no VTIMEZONE for ${[...new Set(missing)].join(", ")}\n`);
  process.exit(3);
}
process.stdout.write(JSON.stringify(events));
