/**
 * Query API parameters: their declarations, and a call's JSON parameters checked, with
 * defaults filled in and query-string text converted where numbers or booleans are
 * declared.
 */

import { type ApiDef, type ApiParamDef, messageOf } from "./defs.js";
import { parseJson } from "./json.js";
import { ConvertError, type DataType, type Type } from "./schema.js";

const NUMERIC = new Set(["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64"]);

function isScalar(dataType: DataType, tags: Set<string> | string): boolean {
  return (
    dataType.wrappers.length === 0 &&
    (typeof tags === "string" ? dataType.leaf.tag === tags : tags.has(dataType.leaf.tag))
  );
}

export function paramDef(api: string, name: string, type: Type<unknown>): ApiParamDef {
  const nullable = type.dataType.wrappers[0] === "nullable";
  const dataType = nullable ? { wrappers: type.dataType.wrappers.slice(1), leaf: type.dataType.leaf } : type.dataType;
  const def: ApiParamDef = {
    name,
    dataType,
    required: !(nullable || type.options.optional === true || type.options.default !== undefined),
    default: type.options.default,
    min: type.options.min,
    max: type.options.max,
    doc: type.options.doc,
  };
  if (def.default !== undefined) {
    try {
      type.convert(textValue(def, def.default));
    } catch (e) {
      throw new Error(`API \`${api}\`: default of \`${name}\`: ${messageOf(e)}`);
    }
  }
  return def;
}

/** A query-string value as the JSON value of `param`'s type. */
function textValue(param: ApiParamDef, text: string): unknown {
  if (isScalar(param.dataType, NUMERIC)) {
    const trimmed = text.trim();
    if (trimmed === "" || !Number.isFinite(Number(trimmed))) {
      throw new ConvertError(`\`${param.name}\` must be a number, got ${JSON.stringify(text)}`);
    }
    return parseJson(trimmed, true);
  }
  if (isScalar(param.dataType, "boolean")) {
    const trimmed = text.trim();
    if (trimmed === "true" || trimmed === "1") return true;
    if (trimmed === "false" || trimmed === "0") return false;
    throw new ConvertError(`\`${param.name}\` must be true or false, got ${JSON.stringify(text)}`);
  }
  return text;
}

/** Parses `text`, fills in defaults, converts strings where numbers or booleans are
 * declared, checks bounds and types every parameter. */
export function prepareParams(api: { def: ApiDef; types: Type<unknown>[] }, text: string): Record<string, unknown> {
  const object = text.trim() === "" ? {} : parseJson(text, true);
  if (typeof object !== "object" || object === null || Array.isArray(object)) {
    throw new Error("parameters are not a JSON object");
  }
  const given = object as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  api.def.params.forEach((param, i) => {
    let value = given[param.name];
    if (value === undefined || value === null) {
      if (param.default !== undefined) value = textValue(param, param.default);
      else if (!param.required) {
        out[param.name] = api.types[i]!.dataType.wrappers[0] === "nullable" ? null : undefined;
        return;
      } else throw new Error(`missing parameter \`${param.name}\``);
    } else if (typeof value === "string" && (isScalar(param.dataType, NUMERIC) || isScalar(param.dataType, "boolean"))) {
      value = textValue(param, value);
    }
    const number = typeof value === "bigint" ? Number(value) : value;
    if (typeof number === "number") {
      if (param.min !== undefined && number < param.min) {
        throw new Error(`parameter \`${param.name}\` must be at least ${param.min}, got ${number}`);
      }
      if (param.max !== undefined && number > param.max) {
        throw new Error(`parameter \`${param.name}\` must be at most ${param.max}, got ${number}`);
      }
    }
    try {
      out[param.name] = api.types[i]!.convert(value);
    } catch (e) {
      throw new Error(`invalid parameter \`${param.name}\`: ${messageOf(e)}`);
    }
  });
  return out;
}
