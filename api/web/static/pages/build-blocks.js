// The Build page's pure helpers (no DOM): a new block's parameters guessed from the shape before it, the
// config the server validates and saves, shapes as text. The server's validation is the authority; the
// shapes inferred here only seed a new block's parameters.

/** "8×16×16" for [8, 16, 16]; "?" when unknown. */
export function shapeText(shape) {
  return Array.isArray(shape) && shape.length ? shape.join("×") : "?";
}

/** A resource slug: 1-64 lowercase letters, digits or '-', not starting or ending with '-'. */
export const SLUG = /^[a-z0-9]([a-z0-9\-]{0,62}[a-z0-9])?$/; // "\-": a pattern attribute is compiled with the v flag

export function slugify(text) {
  return text.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60).replace(/-+$/, "");
}

function number(block, name, fallback) {
  const value = block.params[name];
  return value === undefined || value === null || value === "" ? fallback : Number(value);
}

function spatial(size, kernel, stride, padding, dilation) {
  return Math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1);
}

const positive = (values) => values.every((n) => Number.isInteger(n) && n > 0);

function step(shape, block) {
  switch (block.type) {
    case "Conv2d":
    case "MaxPool2d":
    case "AvgPool2d": {
      if (shape.length !== 3) return null;
      const kernel = number(block, "kernel_size", NaN);
      const stride = number(block, "stride", block.type === "Conv2d" ? 1 : kernel);
      const padding = number(block, "padding", 0);
      const dilation = number(block, "dilation", 1);
      const channels = block.type === "Conv2d" ? number(block, "out_channels", NaN) : shape[0];
      const next = [channels, spatial(shape[1], kernel, stride, padding, dilation), spatial(shape[2], kernel, stride, padding, dilation)];
      return positive(next) ? next : null;
    }
    case "Flatten":
      return [shape.reduce((a, b) => a * b, 1)];
    case "Linear": {
      const out = number(block, "out_features", NaN);
      return shape.length === 1 && positive([out]) ? [out] : null;
    }
    default: // normalisation, dropout and activations keep the shape
      return shape;
  }
}

/** The shape after `blocks` from an input of `channels`×`size`×`size`; null once it cannot be told. */
export function inferShape(channels, size, blocks) {
  let shape = positive([channels, size]) ? [channels, size, size] : null;
  for (const block of blocks) {
    if (!shape) return null;
    shape = step(shape, block);
  }
  return shape;
}

/**
 * A new block of catalog entry `entry` placed after a block whose output is `previous` (a shape or null):
 * every parameter's default, and the required ones guessed so that it fits (Conv2d in_channels = the
 * channels before it, Linear in_features = the flat size before it, out_features = the class count or 10).
 */
export function newBlock(entry, previous, classCount) {
  const params = {};
  for (const parameter of entry.parameters) {
    if (parameter.default !== null && parameter.default !== undefined) params[parameter.name] = parameter.default;
  }
  const pool = entry.type.endsWith("Pool2d");
  const guesses = {
    in_channels: previous ? previous[0] : null,
    num_features: previous ? previous[0] : null,
    in_features: previous ? previous.reduce((a, b) => a * b, 1) : null,
    out_channels: 16,
    out_features: classCount || 10,
    kernel_size: pool ? 2 : 3,
  };
  for (const parameter of entry.parameters) {
    const missing = params[parameter.name] === undefined || params[parameter.name] === null;
    if (parameter.required && missing && guesses[parameter.name] !== undefined && guesses[parameter.name] !== null) {
      params[parameter.name] = guesses[parameter.name];
    }
  }
  return { type: entry.type, params };
}

/** A block as the config has it: its type and every set parameter that is required or not its default. */
export function blockConfig(entry, block) {
  const result = { type: block.type };
  if (!entry) return { ...block.params, ...result };
  for (const parameter of entry.parameters) {
    const value = block.params[parameter.name];
    if (value === undefined || value === null || value === "") continue;
    if (!parameter.required && value === parameter.default) continue;
    result[parameter.name] = value;
  }
  return result;
}

/** A config's block ({type, ...parameters}) as the page holds it: {type, params}, defaults filled in. */
export function blockFromConfig(entry, saved) {
  const { type, ...rest } = saved;
  const params = {};
  for (const parameter of entry ? entry.parameters : []) {
    if (parameter.default !== null && parameter.default !== undefined) params[parameter.name] = parameter.default;
  }
  return { type, params: { ...params, ...rest } };
}

/** The parameters worth showing in the stack: the required ones and any not at its default. */
export function summary(entry, block) {
  const shown = Object.entries(blockConfig(entry, block)).filter(([name]) => name !== "type");
  return shown.map(([name, value]) => `${name} ${value}`).join(", ");
}

/** A parameter's limits and default, in words, for its help line. */
export function limits(parameter) {
  const parts = [];
  if (parameter.minimum !== null && parameter.minimum !== undefined) parts.push(`at least ${parameter.minimum}`);
  if (parameter.exclusive_minimum !== null && parameter.exclusive_minimum !== undefined) parts.push(`above ${parameter.exclusive_minimum}`);
  if (parameter.maximum !== null && parameter.maximum !== undefined) parts.push(`at most ${parameter.maximum}`);
  if (parameter.exclusive_maximum !== null && parameter.exclusive_maximum !== undefined) parts.push(`below ${parameter.exclusive_maximum}`);
  if (!parameter.required) parts.push(parameter.default === null || parameter.default === undefined ? "empty: automatic" : `default ${parameter.default}`);
  return parts.join("; ");
}
