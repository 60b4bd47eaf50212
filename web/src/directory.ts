/** The directory view (tenants, bots, users, phones and their behaviours) and the place-call choices. */
import { behaviourText, h } from './format.js';
import type { DirectoryView } from './types.js';

export function renderDirectory(container: HTMLElement, directory: DirectoryView): void {
  const names = new Map<string, string>([
    ...directory.tenants.flatMap((t) => t.users.map((u): [string, string] => [u.id, u.displayName ?? u.id])),
    ...directory.phones.map((p): [string, string] => [p.number, p.displayName ? `${p.displayName} (${p.number})` : p.number]),
  ]);
  const tenants = directory.tenants.map((t) =>
    h(
      'section',
      { class: 'card', 'data-testid': 'directory-tenant' },
      h('h2', {}, t.displayName ?? t.id, ' ', h('span', { class: 'mono small muted' }, t.id)),
      h('h3', {}, `Bots (${t.applications.length})`),
      h(
        'table',
        { class: 'grid' },
        h('thead', {}, h('tr', {}, h('th', {}, 'bot'), h('th', {}, 'callback URI'), h('th', {}, 'instances'), h('th', {}, 'as a target'), h('th', {}, 'roles · credentials'))),
        h(
          'tbody',
          {},
          ...t.applications.map((a) =>
            h(
              'tr',
              {},
              h('td', {}, h('div', {}, a.displayName ?? ''), h('div', { class: 'mono small muted' }, a.id)),
              h('td', { class: 'mono small' }, a.callbackUri),
              h('td', { class: 'small' }, ...a.instances.map((i) => h('div', {}, `${i.displayName ?? i.id}${i.phone ? ` · ${i.phone}` : ''}`))),
              h('td', { class: 'small' }, a.behaviour ? behaviourText(a.behaviour, names) : 'a bot: gets its own leg call'),
              h('td', { class: 'small' }, `${a.roles.join(', ')} · ${a.credentials.join(', ') || 'none'}`),
            ),
          ),
        ),
      ),
      h('h3', {}, `Users (${t.users.length})`),
      h(
        'table',
        { class: 'grid' },
        h('thead', {}, h('tr', {}, h('th', {}, 'user'), h('th', {}, 'id'), h('th', {}, 'behaviour'))),
        h('tbody', {}, ...t.users.map((u) => h('tr', {}, h('td', {}, u.displayName ?? ''), h('td', { class: 'mono small' }, u.id), h('td', { class: 'small' }, behaviourText(u.behaviour, names))))),
      ),
    ),
  );
  const phones = h(
    'section',
    { class: 'card' },
    h('h2', {}, `PSTN numbers (${directory.phones.length})`),
    h(
      'table',
      { class: 'grid' },
      h('thead', {}, h('tr', {}, h('th', {}, 'number'), h('th', {}, 'name'), h('th', {}, 'behaviour'))),
      h('tbody', {}, ...directory.phones.map((p) => h('tr', {}, h('td', { class: 'mono' }, p.number), h('td', {}, p.displayName ?? ''), h('td', { class: 'small' }, behaviourText(p.behaviour, names))))),
    ),
  );
  container.replaceChildren(...tenants, phones);
}

export interface PlaceCallChoice {
  tenantId: string;
  from: { userId: string } | { phone: string };
  to: { applicationId: string } | { applicationInstanceId: string };
}

/** Fills the place-call form's selects for the chosen tenant. */
export function fillPlaceCallForm(directory: DirectoryView, tenantSelect: HTMLSelectElement, fromSelect: HTMLSelectElement, toSelect: HTMLSelectElement): void {
  if (tenantSelect.options.length === 0) {
    for (const t of directory.tenants) tenantSelect.append(h('option', { value: t.id }, t.displayName ?? t.id));
  }
  const tenant = directory.tenants.find((t) => t.id === tenantSelect.value) ?? directory.tenants[0];
  fromSelect.replaceChildren();
  toSelect.replaceChildren();
  if (!tenant) return;
  const users = h('optgroup', { label: 'users' }, ...tenant.users.map((u) => h('option', { value: `user:${u.id}` }, u.displayName ?? u.id)));
  const phones = h('optgroup', { label: 'PSTN' }, ...directory.phones.map((p) => h('option', { value: `phone:${p.number}` }, `${p.number}${p.displayName ? ` ${p.displayName}` : ''}`)));
  fromSelect.append(users, phones);
  for (const a of tenant.applications) {
    toSelect.append(h('option', { value: `app:${a.id}` }, a.displayName ?? a.id));
    for (const i of a.instances) toSelect.append(h('option', { value: `instance:${i.id}` }, `${a.displayName ?? a.id} via ${i.displayName ?? i.id}${i.phone ? ` (${i.phone})` : ''}`));
  }
}

export function placeCallChoice(tenantSelect: HTMLSelectElement, fromSelect: HTMLSelectElement, toSelect: HTMLSelectElement): PlaceCallChoice | undefined {
  const [fromKind, fromId] = splitOnce(fromSelect.value);
  const [toKind, toId] = splitOnce(toSelect.value);
  if (!tenantSelect.value || !fromId || !toId) return undefined;
  return {
    tenantId: tenantSelect.value,
    from: fromKind === 'phone' ? { phone: fromId } : { userId: fromId },
    to: toKind === 'instance' ? { applicationInstanceId: toId } : { applicationId: toId },
  };
}

function splitOnce(value: string): [string, string] {
  const i = value.indexOf(':');
  return i < 0 ? ['', ''] : [value.slice(0, i), value.slice(i + 1)];
}
