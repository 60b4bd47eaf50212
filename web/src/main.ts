/**
 * The Switchboard dashboard: sign in with the admin key (kept in sessionStorage for this tab), then a live,
 * virtualised list of calls fed by server-sent events, a call's detail and timeline, simulator buttons and
 * the directory. Ages and time left are computed against Switchboard's clock (virtual or real), which every
 * live event carries.
 */
import { Api, ApiError, forgetKey, storedKey, storeKey } from './api.js';
import { renderDetail, type DetailActions } from './detail.js';
import { fillPlaceCallForm, placeCallChoice, renderDirectory } from './directory.js';
import { clockText, duration, escapeHtml } from './format.js';
import { VirtualList } from './list.js';
import { CallsModel, type StateFilter } from './model.js';
import type { CallDetail, CallsEvent, CallSummary, ClockFields, DirectoryView, SnapshotEvent } from './types.js';

const ROW_HEIGHT = 44;

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
};

/** Switchboard's clock as last reported; a real clock runs on between reports, a virtual one does not. */
class ServerClock {
  mode: 'real' | 'virtual' = 'real';
  private base = Date.now();
  private at = performance.now();
  set(fields: ClockFields): void {
    this.mode = fields.mode;
    this.base = fields.now;
    this.at = performance.now();
  }
  now(): number {
    return this.mode === 'real' ? this.base + (performance.now() - this.at) : this.base;
  }
}

function toast(message: string, kind: 'error' | 'info' = 'error'): void {
  const box = $('toasts');
  const el = document.createElement('div');
  el.className = `toast toast-${kind}`;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.textContent = message;
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 3000);
}

// ------------------------------------------------------------------------------------ sign in

async function tryKey(key: string): Promise<{ api: Api; simulator: boolean } | 'refused' | 'unreachable'> {
  const api = new Api(key);
  try {
    const session = await api.session();
    return { api, simulator: session.simulator };
  } catch (error) {
    return error instanceof ApiError && error.status === 401 ? 'refused' : 'unreachable';
  }
}

function showLogin(message?: string): void {
  $('app').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message ?? '';
  $<HTMLInputElement>('login-key').focus();
}

async function boot(): Promise<void> {
  $<HTMLFormElement>('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = $<HTMLInputElement>('login-key').value.trim();
    if (!key) return;
    const result = await tryKey(key);
    if (result === 'refused') return showLogin('That admin key was refused.');
    if (result === 'unreachable') return showLogin('Switchboard did not answer; try again.');
    storeKey(key);
    $<HTMLInputElement>('login-key').value = '';
    start(result.api, result.simulator);
  });
  const key = storedKey();
  if (!key) return showLogin();
  const result = await tryKey(key);
  if (result === 'refused') {
    forgetKey();
    return showLogin('The stored admin key was refused; sign in again.');
  }
  if (result === 'unreachable') return showLogin('Switchboard did not answer; try again.');
  start(result.api, result.simulator);
}

// ------------------------------------------------------------------------------------ the app

function start(api: Api, simulator: boolean): void {
  $('login').hidden = true;
  $('app').hidden = false;
  document.body.classList.toggle('no-simulator', !simulator);

  const clock = new ServerClock();
  const model = new CallsModel();
  let selectedId: string | undefined;
  let detail: CallDetail | undefined;
  let directory: DirectoryView | undefined;

  // --- list
  const list = new VirtualList<CallSummary>({
    viewport: $('list-viewport'),
    rowHeight: ROW_HEIGHT,
    key: (c) => c.id,
    render: renderRow,
    onSelect: (c) => select(c.id),
  });

  function timeLeft(c: CallSummary, now: number): { text: string; cls: string } {
    if (c.state === 'incoming' && c.incomingDeadline !== undefined) {
      const left = c.incomingDeadline - now;
      return { text: `${duration(Math.max(0, left))} window`, cls: left < 5000 ? 'urgent' : 'soon' };
    }
    if (c.state === 'redirecting' && c.ringDeadline !== undefined) {
      return { text: `${duration(Math.max(0, c.ringDeadline - now))} ring`, cls: 'ringing' };
    }
    return { text: '—', cls: 'none' };
  }

  function renderRow(row: HTMLElement, c: CallSummary): void {
    const now = clock.now();
    row.dataset.callId = c.id;
    row.dataset.state = c.state;
    row.className = `vrow${c.id === selectedId ? ' selected' : ''}${c.state === 'terminated' ? ' ended' : ''}${c.kind === 'botLeg' ? ' leg' : ''}`;
    const shown = c.targets.slice(0, 3);
    const targets = shown
      .map((t) => `<span class="chip r-${escapeHtml(t.ringState)}" title="${escapeHtml(`${t.label} (${t.id}) · ${t.behaviour}`)}">${escapeHtml(t.label)} · ${escapeHtml(t.ringState)}</span>`)
      .join('');
    const more = c.targets.length > shown.length ? `<span class="chip more">+${c.targets.length - shown.length}</span>` : '';
    const age = c.endedAt !== undefined ? `lasted ${duration(c.endedAt - c.createdAt)}` : duration(now - c.createdAt);
    const left = timeLeft(c, now);
    const result = c.resultInfo
      ? `<span title="${escapeHtml(c.resultInfo.message)}">${c.resultInfo.code}/${c.resultInfo.subcode}${c.answeredBy ? ` · ${escapeHtml(c.answeredBy)}` : ''}</span>`
      : '';
    row.innerHTML =
      `<span class="state s-${escapeHtml(c.state)}">${escapeHtml(c.state)}</span>` +
      `<span class="who"><span class="caller">${escapeHtml(c.caller)}</span> → <span class="callee">${escapeHtml(c.callee)}</span>${c.kind === 'botLeg' ? ' <span class="tag">leg</span>' : ''}</span>` +
      `<span class="targets">${targets}${more || (c.targets.length ? '' : '<span class="muted">—</span>')}</span>` +
      `<span class="age">${age}</span>` +
      `<span class="left ${left.cls}">${left.text}</span>` +
      `<span class="result">${result}</span>`;
  }

  let listDirty = false;
  function refreshList(): void {
    if (listDirty) return;
    listDirty = true;
    requestAnimationFrame(() => {
      listDirty = false;
      list.setItems(model.view());
      renderCounts();
    });
  }

  function renderCounts(): void {
    const counts = model.counts();
    const parts = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([state, n]) => `<span class="count s-${escapeHtml(state)}">${n} ${escapeHtml(state)}</span>`);
    const shown = list.length;
    $('counts').innerHTML = `<strong data-testid="call-count">${model.size}</strong> calls${shown !== model.size ? ` (${shown} shown)` : ''} ${parts.join(' ')}`;
  }

  const filterInput = $<HTMLInputElement>('filter-text');
  const stateSelect = $<HTMLSelectElement>('filter-state');
  const applyFilter = () => {
    model.setFilter(filterInput.value, stateSelect.value as StateFilter);
    refreshList();
  };
  filterInput.addEventListener('input', applyFilter);
  stateSelect.addEventListener('change', applyFilter);

  // --- clock
  function renderClock(): void {
    $('clock-mode').textContent = clock.mode;
    $('clock-mode').className = `badge mode-${clock.mode}`;
    $('clock-now').textContent = clockText(clock.now());
    $('advance-form').hidden = !(simulator && clock.mode === 'virtual');
  }
  function onClock(fields: ClockFields): void {
    clock.set(fields);
    renderClock();
    list.refresh();
    tickDeadlines();
  }
  setInterval(() => {
    if (clock.mode !== 'real') return;
    $('clock-now').textContent = clockText(clock.now());
    list.refresh();
    tickDeadlines();
  }, 250);

  /** Time-left texts in the detail, updated in place (re-rendering would swallow clicks). */
  function tickDeadlines(): void {
    const now = clock.now();
    for (const el of document.querySelectorAll<HTMLElement>('[data-deadline]')) {
      el.textContent = `${duration(Math.max(0, Number(el.dataset.deadline) - now))}${el.dataset.suffix ?? ''}`;
    }
  }

  async function advance(seconds: number): Promise<void> {
    if (!Number.isFinite(seconds) || seconds <= 0) return toast('Advance by a positive number of seconds.');
    try {
      const r = await api.advance(seconds);
      onClock({ now: Date.parse(r.now), mode: r.mode === 'virtual' ? 'virtual' : 'real' });
      toast(`Clock advanced ${seconds} s; ${r.timersFired} timer${r.timersFired === 1 ? '' : 's'} fired.`, 'info');
    } catch (error) {
      toast(`Advance failed: ${(error as Error).message}`);
    }
  }
  for (const button of document.querySelectorAll<HTMLButtonElement>('[data-advance]')) {
    button.addEventListener('click', () => void advance(Number(button.dataset.advance)));
  }
  $<HTMLFormElement>('advance-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void advance(Number($<HTMLInputElement>('advance-seconds').value));
  });

  // --- detail
  const detailBox = $('detail');
  const actions: DetailActions = {
    simulator,
    now: () => clock.now(),
    targetActs: (callId, targetId, action) => {
      api.targetActs(callId, targetId, action).then(
        () => toast(`Target ${action === 'busy' ? 'is busy' : `${action}ed`}.`, 'info'),
        (error: Error) => toast(`${action} failed: ${error.message}`),
      );
    },
    hangUp: (callId) => {
      api.hangUp(callId).then(
        () => toast('The caller hung up.', 'info'),
        (error: Error) => toast(`Hang up failed: ${error.message}`),
      );
    },
    open: (callId) => select(callId),
    close: () => select(undefined),
  };

  let detailTimer: ReturnType<typeof setTimeout> | undefined;
  let detailSeq = 0;
  function loadDetail(delay = 0): void {
    if (detailTimer) clearTimeout(detailTimer);
    detailTimer = setTimeout(async () => {
      detailTimer = undefined;
      const id = selectedId;
      if (!id) return;
      const seq = ++detailSeq;
      try {
        const d = await api.detail(id);
        if (seq !== detailSeq || id !== selectedId) return;
        detail = d;
        renderDetail(detailBox, d, actions);
        tickDeadlines();
      } catch (error) {
        if (seq !== detailSeq) return;
        detailBox.textContent = `Could not load call ${id}: ${(error as Error).message}`;
      }
    }, delay);
  }

  function select(id: string | undefined): void {
    selectedId = id;
    detail = undefined;
    document.body.classList.toggle('has-detail', id !== undefined);
    detailBox.replaceChildren();
    delete detailBox.dataset.callId;
    list.refresh();
    if (id) {
      detailBox.textContent = 'Loading…';
      loadDetail();
    }
  }

  // --- simulator: place a call
  const tenantSelect = $<HTMLSelectElement>('place-tenant');
  const fromSelect = $<HTMLSelectElement>('place-from');
  const toSelect = $<HTMLSelectElement>('place-to');
  tenantSelect.addEventListener('change', () => directory && fillPlaceCallForm(directory, tenantSelect, fromSelect, toSelect));
  $<HTMLFormElement>('place-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const choice = placeCallChoice(tenantSelect, fromSelect, toSelect);
    if (!choice) return toast('Choose a tenant, a caller and a bot.');
    try {
      const { id } = await api.placeCall(choice);
      toast(`Call placed: ${id}`, 'info');
      select(id);
    } catch (error) {
      toast(`Place call failed: ${(error as Error).message}`);
    }
  });

  async function loadDirectory(): Promise<void> {
    if (!simulator) {
      $('directory-view').textContent = 'The simulator is off (operator mode): the directory is not shown.';
      return;
    }
    try {
      directory = await api.directory();
      renderDirectory($('directory-view'), directory);
      fillPlaceCallForm(directory, tenantSelect, fromSelect, toSelect);
    } catch (error) {
      toast(`Directory: ${(error as Error).message}`);
    }
  }

  // --- tabs, sign out
  for (const tab of document.querySelectorAll<HTMLButtonElement>('[data-tab]')) {
    tab.addEventListener('click', () => {
      for (const t of document.querySelectorAll<HTMLButtonElement>('[data-tab]')) t.classList.toggle('active', t === tab);
      $('calls-view').hidden = tab.dataset.tab !== 'calls';
      $('directory-view').hidden = tab.dataset.tab !== 'directory';
      if (tab.dataset.tab === 'calls') list.refresh();
    });
  }
  $('sign-out').addEventListener('click', () => {
    forgetKey();
    location.reload();
  });

  // --- live feed
  const status = $('live-status');
  let source: EventSource | undefined;
  let retry = 500;
  async function connect(): Promise<void> {
    source?.close();
    status.textContent = 'connecting';
    status.className = 'badge live-connecting';
    let ticket: string;
    try {
      ticket = (await api.ticket()).ticket;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        forgetKey();
        return showLogin('The admin key was refused; sign in again.');
      }
      return reconnect();
    }
    const es = new EventSource(`/dashboard/api/events?ticket=${encodeURIComponent(ticket)}`);
    source = es;
    es.addEventListener('snapshot', (event) => {
      const data = JSON.parse((event as MessageEvent<string>).data) as SnapshotEvent;
      retry = 500;
      status.textContent = 'live';
      status.className = 'badge live-on';
      onClock(data);
      model.reset(data.calls);
      refreshList();
      if (selectedId) loadDetail();
    });
    es.addEventListener('calls', (event) => {
      const data = JSON.parse((event as MessageEvent<string>).data) as CallsEvent;
      clock.set(data);
      renderClock();
      if (model.apply(data.calls)) refreshList();
      if (selectedId && (data.touched.includes(selectedId) || data.calls.some((c) => c.id === selectedId))) loadDetail(30);
    });
    es.addEventListener('clock', (event) => onClock(JSON.parse((event as MessageEvent<string>).data) as ClockFields));
    es.addEventListener('error', () => {
      // The ticket is single-use: an automatic reconnection would be refused, so start over with a new one.
      if (source !== es) return;
      es.close();
      reconnect();
    });
  }
  function reconnect(): void {
    status.textContent = 'reconnecting';
    status.className = 'badge live-off';
    setTimeout(() => void connect(), retry);
    retry = Math.min(retry * 2, 10_000);
  }

  renderClock();
  void loadDirectory();
  void connect();
  // For tests and the curious: the page's state.
  (window as unknown as { switchboard: unknown }).switchboard = { model, list, clock, get detail() { return detail; } };
}

void boot();
