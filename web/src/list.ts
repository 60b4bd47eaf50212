/**
 * A virtualised list: a spacer as tall as every row, and only the rows in view (plus a margin) in the DOM,
 * absolutely positioned and reused. Stays fast with tens of thousands of rows: scrolling re-renders about
 * thirty rows, never the whole list.
 */
export interface VirtualListOptions<T> {
  viewport: HTMLElement;
  rowHeight: number;
  /** Fills `row` for `item` (the row element is reused for other items). */
  render: (row: HTMLElement, item: T, index: number) => void;
  key: (item: T) => string;
  onSelect?: (item: T) => void;
}

export class VirtualList<T> {
  private items: T[] = [];
  private readonly spacer: HTMLElement;
  private readonly rows: HTMLElement[] = [];
  private frame = 0;
  private readonly overscan = 6;

  constructor(private readonly o: VirtualListOptions<T>) {
    this.spacer = document.createElement('div');
    this.spacer.className = 'vlist-spacer';
    o.viewport.append(this.spacer);
    o.viewport.addEventListener('scroll', () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(o.viewport);
    o.viewport.addEventListener('click', (event) => {
      const row = (event.target as HTMLElement).closest<HTMLElement>('.vrow');
      if (!row || row.dataset.index === undefined) return;
      const item = this.items[Number(row.dataset.index)];
      if (item !== undefined) this.o.onSelect?.(item);
    });
  }

  get length(): number {
    return this.items.length;
  }

  setItems(items: T[]): void {
    this.items = items;
    this.spacer.style.height = `${items.length * this.o.rowHeight}px`;
    this.schedule();
  }

  /** Re-renders the rows in view (times move on). */
  refresh(): void {
    this.schedule();
  }

  scrollToIndex(index: number): void {
    this.o.viewport.scrollTop = Math.max(0, index * this.o.rowHeight - this.o.viewport.clientHeight / 2);
    this.schedule();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  /** Renders synchronously (tests, and after a batch that must show at once). */
  render(): void {
    const { viewport, rowHeight } = this.o;
    const height = viewport.clientHeight || 600;
    const first = Math.max(0, Math.floor(viewport.scrollTop / rowHeight) - this.overscan);
    const last = Math.min(this.items.length, Math.ceil((viewport.scrollTop + height) / rowHeight) + this.overscan);
    const needed = Math.max(0, last - first);
    while (this.rows.length < needed) {
      const row = document.createElement('div');
      row.className = 'vrow';
      row.setAttribute('role', 'row');
      viewport.append(row);
      this.rows.push(row);
    }
    for (let i = 0; i < this.rows.length; i++) {
      const row = this.rows[i];
      if (!row) continue;
      const index = first + i;
      const item = i < needed ? this.items[index] : undefined;
      if (item === undefined) {
        if (!row.hidden) {
          row.hidden = true;
          for (const key of Object.keys(row.dataset)) delete row.dataset[key];
          row.textContent = '';
        }
        continue;
      }
      row.hidden = false;
      row.dataset.index = String(index);
      row.dataset.key = this.o.key(item);
      row.style.transform = `translateY(${index * rowHeight}px)`;
      this.o.render(row, item, index);
    }
  }
}
