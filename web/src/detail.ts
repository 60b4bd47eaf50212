/**
 * A call's detail: who, state, result, the targets with simulator buttons, and its timeline: history
 * events and state changes, every notification (with each delivery attempt, its status, and the body as
 * sent) and every Graph request the bot made about the call, in time order.
 */
import { clockText, duration, h, identityLabel, offset, prettyJson } from './format.js';
import type { CallDetail, GraphRequestEntry, Json, RecordNotification } from './types.js';

export interface DetailActions {
  simulator: boolean;
  now: () => number;
  targetActs: (callId: string, targetId: string, action: 'answer' | 'decline' | 'busy') => void;
  hangUp: (callId: string) => void;
  open: (callId: string) => void;
  close: () => void;
}

type TimelineItem = { at: number; order: number; node: HTMLElement };

const ms = (iso: string | undefined): number | undefined => (iso ? Date.parse(iso) : undefined);

/** A collapsible JSON block; `key` keeps it open across live refreshes. */
function jsonBlock(label: string, value: Json | undefined, key: string, open = false): HTMLElement | null {
  if (value === undefined) return null;
  return h('details', { class: 'json', open, 'data-key': key }, h('summary', {}, label), h('pre', {}, prettyJson(value)));
}

function statusClass(status: number | undefined): string {
  if (status === undefined) return 'st-error';
  if (status < 300) return 'st-ok';
  if (status < 500) return 'st-warn';
  return 'st-error';
}

function historyText(entry: Record<string, Json | undefined>, targetNames: Map<string, string>): string {
  const type = String(entry.type);
  const name = (id: Json | undefined) => targetNames.get(String(id)) ?? String(id);
  switch (type) {
    case 'state':
      return `state ${String(entry.from)} → ${String(entry.to)}`;
    case 'target':
      return `target ${name(entry.targetId)} → ${String(entry.ringState)}${entry.forwardedTo ? ` (to ${name(entry.forwardedTo)})` : ''}`;
    case 'created':
      return `call created (${String(entry.state ?? '')})${entry.parentCallId ? ` as a leg of ${String(entry.parentCallId)}` : ''}`;
    case 'redirect': {
      const targets = Array.isArray(entry.targets) ? entry.targets : [];
      const flags = (['maskCaller', 'maskCallee', 'disableForwarding'] as const).filter((f) => entry[f] === true);
      return `redirect accepted: ${targets.length} target${targets.length === 1 ? '' : 's'}, timeout ${String(entry.timeoutSeconds)} s${flags.length ? `, ${flags.join(', ')}` : ''}`;
    }
    case 'answer':
      return 'the bot answered';
    case 'reject':
      return `the bot rejected the call (reason ${String(entry.reason)})`;
    case 'delete':
      return 'the bot hung up (DELETE)';
    case 'callerHungUp':
      return 'the caller hung up';
    case 'incomingWindowExpired':
      return 'the 15 s incoming window expired';
    case 'ringTimeout':
      return `ring timeout (${String(entry.timeoutSeconds)} s): no target answered`;
    case 'legEnded':
      return `leg ended by the redirected call (${String(entry.code)}/${String(entry.subcode)})`;
    default: {
      const details = Object.entries(entry)
        .filter(([k]) => k !== 'at' && k !== 'type')
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      return details ? `${type} ${details}` : type;
    }
  }
}

function notificationNode(n: RecordNotification, base: number): HTMLElement {
  const status = n.delivered ? 'delivered' : n.dead ? 'dead' : 'pending';
  const attempts = h(
    'ol',
    { class: 'attempts' },
    ...n.attempts.map((a) => {
      const at = ms(a.at) ?? base;
      return h(
        'li',
        { title: a.at },
        h('span', { class: 'offset' }, offset(at, base)),
        ' attempt → ',
        h('span', { class: `status ${statusClass(a.status)}` }, a.status !== undefined ? String(a.status) : 'no response'),
        a.error ? h('span', { class: 'error-text' }, ` ${a.error}`) : null,
      );
    }),
  );
  return h(
    'div',
    { class: 'tl-body' },
    h('div', {}, h('strong', {}, `notification ${n.changeType}`), ` (${n.state}) → `, h('code', {}, n.url), ' ', h('span', { class: `badge nb-${status}` }, status)),
    n.attempts.length ? attempts : h('div', { class: 'muted' }, n.nextAttemptAt ? `first attempt due ${n.nextAttemptAt}` : 'not attempted yet'),
    !n.delivered && !n.dead && n.nextAttemptAt && n.attempts.length ? h('div', { class: 'muted' }, `next attempt ${n.nextAttemptAt}`) : null,
    jsonBlock('body', n.body, `n-${n.id}`),
  );
}

function requestNode(r: GraphRequestEntry): HTMLElement {
  return h(
    'div',
    { class: 'tl-body' },
    h(
      'div',
      {},
      h('strong', {}, `${r.method} `),
      h('code', {}, r.path),
      ' → ',
      h('span', { class: `status ${statusClass(r.status)}` }, String(r.status)),
      h('span', { class: 'muted' }, ` ${r.durationMs.toFixed(1)} ms`),
    ),
    h('div', { class: 'muted small' }, `request-id ${r.requestId}${r.applicationId ? ` · app ${r.applicationId}` : ''}`),
    jsonBlock('request body', r.body, `r-${r.requestId}`),
    jsonBlock('error', r.error, `e-${r.requestId}`, true),
  );
}

export function renderDetail(container: HTMLElement, detail: CallDetail, actions: DetailActions): void {
  const { record } = detail;
  const base = ms(record.createdAt) ?? 0;
  const now = actions.now();
  const targetNames = new Map(record.targets.map((t) => [t.id, identityLabel(t.identity)]));

  const header = h(
    'div',
    { class: 'detail-head' },
    h(
      'div',
      { class: 'detail-title' },
      h('span', { class: `state s-${record.state}`, 'data-testid': 'detail-state' }, record.state),
      h('span', { class: 'detail-kind' }, record.kind === 'botLeg' ? 'bot leg' : 'incoming call'),
      h('button', { class: 'icon', title: 'Close', onclick: () => actions.close() }, '×'),
    ),
    h('div', { class: 'mono small', 'data-testid': 'detail-id' }, record.id),
  );

  const facts = h('dl', { class: 'facts' });
  const fact = (term: string, value: Node | string) => facts.append(h('dt', {}, term), h('dd', {}, value));
  fact('caller', identityLabel(record.caller.identity));
  fact('called', identityLabel(record.callee.identity));
  if (record.caller.presentedCallee) fact('caller sees', identityLabel(record.caller.presentedCallee));
  fact('tenant', h('span', { class: 'mono small' }, record.tenantId));
  fact('application', h('span', { class: 'mono small' }, record.applicationId));
  fact('created', `${clockText(base)}`);
  if (record.parentCallId) {
    const parent = record.parentCallId;
    fact('leg of', h('a', { href: '#', onclick: (e) => (e.preventDefault(), actions.open(parent)) }, parent));
  }
  if (record.state === 'incoming' && record.incomingDeadline) {
    const deadline = ms(record.incomingDeadline) ?? now;
    fact('window', h('span', { class: 'left urgent', 'data-deadline': deadline, 'data-suffix': ' left of the 15 s window to redirect, answer or reject' }, duration(Math.max(0, deadline - now))));
  }
  if (record.redirect) {
    const r = record.redirect;
    fact('redirect', `timeout ${r.timeout} s${r.maskCaller ? ', maskCaller' : ''}${r.maskCallee ? ', maskCallee' : ''}${r.disableForwarding ? ', disableForwarding' : ''}`);
    if (record.state === 'redirecting') {
      const deadline = ms(r.ringDeadline) ?? now;
      fact('ringing', h('span', { class: 'left ringing', 'data-deadline': deadline, 'data-suffix': ' left before the ring timeout' }, duration(Math.max(0, deadline - now))));
    }
  }
  if (record.resultInfo) {
    fact(
      'result',
      h('span', { 'data-testid': 'detail-result' }, `${record.resultInfo.code}/${record.resultInfo.subcode} `, h('span', { class: 'muted' }, record.resultInfo.message)),
    );
  }
  if (record.answeredBy) fact('answered by', identityLabel(record.answeredBy.identity));
  if (record.endedAt) fact('ended', `${clockText(ms(record.endedAt) ?? 0)} (${duration((ms(record.endedAt) ?? base) - base)})`);

  const callButtons = h('div', { class: 'actions' });
  if (actions.simulator && record.state !== 'terminated' && record.kind === 'incoming') {
    callButtons.append(h('button', { class: 'danger', 'data-testid': 'hangup', onclick: () => actions.hangUp(record.id) }, 'Caller hangs up'));
  }

  const targets = record.targets.length
    ? h(
        'table',
        { class: 'targets', 'data-testid': 'detail-targets' },
        h('thead', {}, h('tr', {}, h('th', {}, 'target'), h('th', {}, 'behaviour'), h('th', {}, 'ring state'), h('th', {}, ''))),
        h(
          'tbody',
          {},
          ...record.targets.map((t) =>
            h(
              'tr',
              { 'data-target-id': t.id },
              h(
                'td',
                {},
                h('div', {}, identityLabel(t.identity)),
                h('div', { class: 'mono small muted' }, t.id),
                t.forwardedFrom ? h('div', { class: 'small muted' }, `forwarded from ${targetNames.get(t.forwardedFrom) ?? t.forwardedFrom}`) : null,
                t.legCallId
                  ? h('a', { href: '#', class: 'small', onclick: (e) => (e.preventDefault(), actions.open(t.legCallId ?? '')) }, 'open its leg call')
                  : null,
              ),
              h('td', { class: 'small' }, t.behaviour ?? ''),
              h('td', {}, h('span', { class: `ring r-${t.ringState}`, 'data-testid': `ring-${t.id}` }, t.ringState)),
              h(
                'td',
                { class: 'row-actions' },
                actions.simulator && t.ringState === 'ringing' && record.state === 'redirecting'
                  ? h(
                      'span',
                      {},
                      h('button', { class: 'ok', 'data-testid': `answer-${t.id}`, onclick: () => actions.targetActs(record.id, t.id, 'answer') }, 'Answer'),
                      h('button', { 'data-testid': `decline-${t.id}`, onclick: () => actions.targetActs(record.id, t.id, 'decline') }, 'Decline'),
                      h('button', { 'data-testid': `busy-${t.id}`, onclick: () => actions.targetActs(record.id, t.id, 'busy') }, 'Busy'),
                    )
                  : null,
              ),
            ),
          ),
        ),
      )
    : h('p', { class: 'muted' }, record.kind === 'incoming' && record.state === 'incoming' ? 'Not redirected yet.' : 'No redirect targets.');

  // Timeline: history, notifications, Graph requests, in time order. At the same instant (always, on a
  // virtual clock) a notification follows the history entry that caused it, and a successful Graph request
  // comes just before the history entry it caused.
  const items: TimelineItem[] = [];
  const history = record.history;
  history.forEach((entry, i) => {
    const at = ms(entry.at) ?? base;
    const kind = entry.type === 'state' ? 'state' : 'event';
    items.push({ at, order: i, node: h('li', { class: `tl tl-${kind}` }, h('span', { class: 'offset', title: entry.at }, offset(at, base)), h('span', { class: 'tl-kind' }, kind), h('div', { class: 'tl-body' }, historyText(entry, targetNames))) });
  });
  let from = 0;
  record.notifications.forEach((n, i) => {
    const at = ms(n.createdAt) ?? ms(n.attempts[0]?.at) ?? base;
    const cause = history.findIndex((e, j) => j >= from && (n.changeType === 'created' ? e.type === 'created' : e.type === 'state' && e.to === n.state));
    if (cause >= 0) from = cause + 1;
    const order = cause >= 0 ? cause + 0.5 + i / 1000 : 1e6 + i;
    items.push({ at, order, node: h('li', { class: 'tl tl-notification', 'data-testid': 'tl-notification' }, h('span', { class: 'offset', title: n.createdAt ?? '' }, offset(at, base)), h('span', { class: 'tl-kind' }, 'notify'), notificationNode(n, base)) });
  });
  const used = new Set<number>();
  detail.graphRequests.forEach((r, i) => {
    const action = r.method === 'DELETE' ? 'delete' : r.method === 'POST' ? r.path.split('/').pop() : undefined;
    const effect = r.status < 300 && action ? history.findIndex((e, j) => !used.has(j) && e.type === action && (ms(e.at) ?? 0) >= r.at) : -1;
    if (effect >= 0) used.add(effect);
    const order = effect >= 0 ? effect - 0.5 + i / 1000 : 2e6 + i;
    items.push({ at: r.at, order, node: h('li', { class: 'tl tl-request', 'data-testid': 'tl-request' }, h('span', { class: 'offset', title: new Date(r.at).toISOString() }, offset(r.at, base)), h('span', { class: 'tl-kind' }, 'graph'), requestNode(r)) });
  });
  items.sort((a, b) => a.at - b.at || a.order - b.order);

  // Keep what the reader opened and where they were, across live refreshes of the same call.
  const sameCall = container.dataset.callId === record.id;
  const opened = new Map<string, boolean>();
  if (sameCall) for (const d of container.querySelectorAll<HTMLDetailsElement>('details[data-key]')) opened.set(d.dataset.key ?? '', d.open);
  const scroll = sameCall ? container.scrollTop : 0;
  container.dataset.callId = record.id;
  container.replaceChildren(
    header,
    facts,
    callButtons,
    h('h3', {}, 'Targets'),
    targets,
    h('h3', {}, 'Timeline'),
    h('ol', { class: 'timeline', 'data-testid': 'timeline' }, ...items.map((i) => i.node)),
  );
  for (const d of container.querySelectorAll<HTMLDetailsElement>('details[data-key]')) {
    const was = opened.get(d.dataset.key ?? '');
    if (was !== undefined) d.open = was;
  }
  container.scrollTop = scroll;
}
