// A typed value from what a person typed, by the interface type's kind (checked again by the server).

/** The value, or what was expected instead ("a whole number", "JSON", ...). */
export function parse(kind: string, raw: string): [unknown, string | null] {
  const s = raw.trim();
  if (kind === "int") return /^-?\d+$/.test(s) ? [Number(s), null] : [null, "a whole number"];
  if (kind === "float") return s !== "" && !Number.isNaN(Number(s)) ? [Number(s), null] : [null, "a number"];
  if (kind === "str") return [raw, null];
  if (kind === "bool") return [s === "true", null];
  try {
    return [JSON.parse(s), null];
  } catch {
    return [null, "JSON"];
  }
}
