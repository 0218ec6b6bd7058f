// Operator-written VM commands may carry credentials (`curl -H 'Authorization: Bearer ...'`, `--password=...`,
// `https://user:pass@host`). They never go into events or a job's error; the server log gets them at debug level
// through this, which blanks what looks like a secret. A heuristic: the real protection is keeping them out.

const RULES: Array<[RegExp, string]> = [
  // Authorization: Bearer xyz / Basic xyz / Token xyz (header value, or the scheme on its own)
  [/\b(bearer|basic|token|digest)(\s+)[^\s'"]+/gi, "$1$2[redacted]"],
  // Authorization: xyz (a raw header value without a scheme)
  [
    /\b(authorization|x-api-key|api-key|x-auth-token|cookie)(\s*:\s*)(?!\s*(?:bearer|basic|token|digest)\b)[^'"\n]+/gi,
    "$1$2[redacted]",
  ],
  // --password=xyz, password=xyz, token: xyz, api_key=xyz, secret=xyz (flags, env assignments, query strings)
  [/\b([\w-]*(?:pass(?:word|wd)?|secret|token|api[-_]?key|credential)s?)(\s*[=:]\s*)[^\s'"&;]+/gi, "$1$2[redacted]"],
  // --password xyz, --token xyz (a flag and its value as the next word)
  [/(\s--?[\w-]*(?:pass(?:word|wd)?|secret|token|api[-_]?key|credential)s?)(\s+)(?!-)[^\s'"&;]+/gi, "$1$2[redacted]"],
  // scheme://user:password@host
  [/(\/\/[^/\s:@'"]+:)[^@\s/'"]+@/g, "$1[redacted]@"],
  // curl -u user:password / --user user:password
  [/(\s(?:-u|--user)\s+['"]?[^:\s'"]+:)[^\s'"]+/g, "$1[redacted]"],
];

export function redactSecrets(text: string): string {
  return RULES.reduce((out, [pattern, replacement]) => out.replace(pattern, replacement), text);
}
