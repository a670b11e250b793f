import type { MLModel } from './types';

export interface PickItem {
  /** The id sent to the API (the backend expands a chain member to the whole chain). */
  id: number;
  label: string;
  members: MLModel[];
  framework: string;
}

/** One pick item per plain model and one per distributed chain (edge first → top). */
export function pickItems(models: MLModel[]): PickItem[] {
  const byId = new Map(models.map((m) => [m.id, m]));
  const lowerOf = new Map<number, MLModel>();
  for (const m of models) if (m.distributed && m.upper_model != null && !lowerOf.has(m.upper_model)) lowerOf.set(m.upper_model, m);
  const items: PickItem[] = [];
  const used = new Set<number>();
  // Edges: distributed models nobody sends up to.
  for (const m of models) {
    if (!m.distributed || lowerOf.has(m.id) || used.has(m.id)) continue;
    const members: MLModel[] = [];
    let cur: MLModel | undefined = m;
    while (cur && !used.has(cur.id)) {
      used.add(cur.id);
      members.push(cur);
      cur = cur.upper_model != null ? byId.get(cur.upper_model) : undefined;
    }
    items.push({
      id: m.id,
      label: members.length > 1 ? `Chain: ${members.map((x) => x.name).join(' → ')}` : m.name,
      members,
      framework: m.framework,
    });
  }
  for (const m of models) {
    if (used.has(m.id)) continue;
    used.add(m.id);
    items.push({ id: m.id, label: m.name, members: [m], framework: m.framework });
  }
  return items.sort((a, b) => b.id - a.id);
}
