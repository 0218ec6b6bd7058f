// Path and query parameters arrive as text, so their ajv coerces ("7" -> 7). A JSON body arrives typed: its ajv
// takes it as sent, so {"name": 123} is a 400 rather than the name "123". Fastify's one default ajv coerces all.
import AjvCompiler, { type ValidatorFactory } from "@fastify/ajv-compiler";

/** A validator factory for `schemaController.compilersFactory.buildValidator`: no type coercion for bodies. */
export function exactBodyValidators(): ValidatorFactory {
  const pool = AjvCompiler();
  return (externalSchemas, options) => {
    const coercing = pool(externalSchemas, options);
    // JTD mode (unused here) has no coercion to turn off.
    if (options?.mode === "JTD") return coercing;
    const exact = pool(externalSchemas, {
      ...options,
      customOptions: { ...options?.customOptions, coerceTypes: false },
    });
    return (route) => (route.httpPart === "body" ? exact : coercing)(route);
  };
}
