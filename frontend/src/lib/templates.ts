// GET /api/v1/models/templates/ answers per framework; accept the shapes it may take.

export interface Template {
  name: string;
  imports: string;
  code: string;
  description?: string;
}

function one(v: unknown, fallbackName: string): Template | null {
  if (typeof v === 'string') return { name: fallbackName, imports: '', code: v };
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.code === 'string') {
      return {
        name: typeof o.title === 'string' ? o.title : typeof o.name === 'string' ? o.name : fallbackName,
        imports: typeof o.imports === 'string' ? o.imports : '',
        code: o.code,
        description: typeof o.description === 'string' ? o.description : undefined,
      };
    }
  }
  return null;
}

/** Templates for one framework, from whatever the API answered. */
export function templatesFor(data: unknown, framework: string): Template[] {
  if (!data || typeof data !== 'object') return [];
  let entry: unknown = (data as Record<string, unknown>)[framework];
  if (entry === undefined && Array.isArray(data)) {
    entry = (data as unknown[]).filter((t) => (t as Record<string, unknown>)?.framework === framework);
  }
  if (entry === undefined) return [];
  if (Array.isArray(entry)) return entry.map((t, i) => one(t, `Template ${i + 1}`)).filter((t): t is Template => !!t);
  const single = one(entry, 'Template');
  if (single) return [single];
  if (entry && typeof entry === 'object') {
    return Object.entries(entry as Record<string, unknown>)
      .map(([name, t]) => {
        const tpl = one(t, name);
        return tpl ? { ...tpl, name: tpl.name === name || tpl.name === 'Template' ? name : tpl.name } : null;
      })
      .filter((t): t is Template => !!t);
  }
  return [];
}
