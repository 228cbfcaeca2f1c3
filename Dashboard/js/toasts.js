// Notices for state changes, gaps and relay errors. Toasts owns its container: at most `limit`
// toasts, newest on top, a repeated message refreshes the one already shown (with a count)
// instead of stacking a copy. The container is part of the page's flow (under the top bar),
// not an overlay, so a toast never covers a control.

export class Toasts {
  constructor(container, { limit = 3, lifetime = 6000 } = {}) {
    this.container = container;
    this.limit = limit;
    this.lifetime = lifetime;
  }

  /** Shows `message` ("info", "success", "warning" or "error"); returns the toast element. */
  show(message, kind = 'info') {
    const key = `${kind}:${message}`;
    let toast = [...this.container.children].find((child) => child.dataset.key === key);
    if (toast) {
      const count = Number(toast.dataset.count || '1') + 1;
      toast.dataset.count = String(count);
      toast.querySelector('.toast-count').textContent = `×${count}`;
      clearTimeout(toast.timer);
    } else {
      toast = document.createElement('div');
      toast.className = `toast toast-${kind}`;
      toast.dataset.key = key;
      toast.dataset.count = '1';
      toast.setAttribute('role', kind === 'error' ? 'alert' : 'status');
      const text = document.createElement('span');
      text.className = 'toast-text';
      text.textContent = message;
      const count = document.createElement('span');
      count.className = 'toast-count';
      const close = document.createElement('button');
      close.type = 'button';
      close.className = 'toast-close';
      close.setAttribute('aria-label', 'Dismiss');
      close.textContent = '×';
      close.addEventListener('click', () => this.#remove(toast));
      toast.append(text, count, close);
    }
    this.container.prepend(toast);
    while (this.container.children.length > this.limit) this.#remove(this.container.lastElementChild);
    toast.timer = setTimeout(() => this.#remove(toast), this.lifetime);
    return toast;
  }

  #remove(toast) {
    clearTimeout(toast.timer);
    toast.remove();
  }
}
