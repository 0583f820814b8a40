"""CSS, theme and the small scripts of the two HTML panels (Gradio 6 takes theme and css at launch)."""

from __future__ import annotations

import gradio as gr

# System fonts: the app works offline, so nothing is fetched from a font service.
THEME = gr.themes.Soft(font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
                       font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])

# Colours chosen for WCAG AA contrast (4.5:1 for text) on the Soft theme's light and dark backgrounds.
CSS = """
:root { --aa-accent: #4338ca; --aa-muted: #374151; --aa-focus: #1d4ed8; --aa-mark-bg: #fde68a; }
.dark { --aa-accent: #c7d2fe; --aa-muted: #d1d5db; --aa-focus: #93c5fd; }
/* Labels, info text and primary buttons of the theme fall short of 4.5:1: darker (lighter in dark mode). */
.gradio-container label span, .gradio-container [data-testid="block-info"],
.gradio-container .block-title, .gradio-container span.svelte-1gfkn6j { color: var(--body-text-color) !important; }
.gradio-container [data-testid="block-info"] + div, .gradio-container .info, .gradio-container span.info,
.gradio-container div[class*="info"] { color: var(--aa-muted) !important; opacity: 1 !important; }
.gradio-container button.primary { background: #3730a3 !important; color: #fff !important; border-color: #3730a3; }
.gradio-container button.stop { background: #b91c1c !important; color: #fff !important; border-color: #b91c1c; }
.gradio-container input::placeholder, .gradio-container textarea::placeholder { color: #4b5563 !important;
  opacity: 1; }
.dark .gradio-container input::placeholder, .dark .gradio-container textarea::placeholder { color: #d1d5db !important; }
footer button, footer a, footer span { color: var(--body-text-color) !important; }
.gradio-container [data-testid="block-label"], .gradio-container [data-testid="upload-text"],
.gradio-container [data-testid="upload-text"] * { color: var(--body-text-color) !important; }
.gradio-container label.selected, .gradio-container label.selected * { background-color: #3730a3 !important;
  color: #fff !important; }
#eval-failures p, .gradio-container .table-wrap + p { color: var(--body-text-color) !important; }
.gradio-container input[role="combobox"] { color: var(--body-text-color) !important; }
/* A focus ring that is always visible, on every control. */
.gradio-container :focus-visible, .gradio-container a:focus, .gradio-container button:focus-visible {
  outline: 3px solid var(--aa-focus) !important; outline-offset: 2px !important; }
#app-header h1 { margin: 0; font-size: 1.6em; }
#app-header p { margin: 2px 0 0; }
#app-header .corpus-line { font-weight: 600; }
#chat .message, #chat .message * { overflow-wrap: anywhere; }
#chat a[href*="#cite-"] { text-decoration: none; font-weight: 700; font-size: .85em; vertical-align: super;
  padding: 0 3px; border-radius: 4px; color: var(--aa-accent); background: transparent;
  border: 1px solid currentColor; }
#chat .message em, #chat .message em * { color: var(--body-text-color); }
.aa-preview { position: fixed; z-index: 1000; max-width: min(420px, 90vw); padding: 8px 10px; border-radius: 8px;
  background: #111827; color: #f9fafb; font-size: .85em; line-height: 1.4; box-shadow: 0 4px 16px rgba(0,0,0,.3);
  pointer-events: none; }
#passages .panel-head { display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; margin-bottom: 8px; }
#passages .panel-title { font-size: 1em; margin: 0; }
#passages .panel-q { font-size: .9em; overflow-wrap: anywhere; color: var(--aa-muted); }
.copy-answer { margin-left: auto; font-size: .85em; padding: 2px 8px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
  color: var(--body-text-color); }
.panel-empty, .article-empty { color: var(--aa-muted); padding: 12px; border: 1px dashed var(--border-color-primary);
  border-radius: 8px; }
.cite-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px;
  margin-bottom: 10px; cursor: pointer; background: var(--background-fill-primary); }
.cite-card:hover { border-color: var(--aa-accent); }
.cite-card.selected { border-color: var(--aa-accent); box-shadow: 0 0 0 2px var(--aa-accent); }
.cite-card.closest { border-style: dashed; }
.cite-card .open-article { all: unset; cursor: pointer; display: block; border-radius: 4px; }
.cite-card .num { font-weight: 700; color: var(--aa-accent); }
.cite-card .title, .article-title { font-weight: 600; overflow-wrap: anywhere; }
.article-title { font-size: 1.05em; margin: 0 0 4px; }
.meta { font-size: .85em; color: var(--aa-muted); margin: 2px 0 6px; overflow-wrap: anywhere; }
.meta a { color: var(--aa-accent); }
.meta .link.bad { text-decoration: line-through; }
.cite-card .also { font-size: .85em; color: var(--aa-muted); margin: -2px 0 6px; font-style: italic;
  overflow-wrap: anywhere; }
#search-all-dates { align-self: flex-start; width: auto; max-width: max-content; margin: 2px 0 4px 8px; }
#eval-report table { font-size: .9em; }
.passage-text, .article-body { white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.5; }
.passage-text { font-size: .92em; max-height: 16em; overflow: auto; }
mark.hl { background: var(--aa-mark-bg); color: #1f2937; border-radius: 2px; padding: 0 1px; }
.article { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px; }
.article-body { position: relative; max-height: min(55vh, 440px); overflow: auto; padding-right: 6px; }
.article-body .in-passage { background: var(--background-fill-secondary); }
.examples-title { font-size: .95em; margin: 6px 0 2px; }
#examples { gap: 4px; }
#examples button.example { white-space: normal; text-align: left; justify-content: flex-start; height: auto;
  line-height: 1.35; padding: 6px 10px; }
.articles-box { overflow: auto; max-height: 440px; }
table.articles { width: 100%; border-collapse: collapse; font-size: .92em; }
table.articles caption { text-align: left; font-weight: 600; padding: 4px 0; }
table.articles th, table.articles td { text-align: left; padding: 4px 8px; border-bottom: 1px solid
  var(--border-color-primary); vertical-align: top; }
table.articles .col-date, table.articles .col-chunks { white-space: nowrap; }
table.articles .col-title { overflow-wrap: anywhere; min-width: 12em; }
table.articles .col-id { overflow-wrap: anywhere; font-family: var(--font-mono); font-size: .9em; }
.narrow-only { display: none !important; }
/* Phone: the sources are a drawer over the lower part of the screen; the conversation stays where it was. */
@media (max-width: 760px) {
  .narrow-only { display: flex !important; }
  #open-sources { position: sticky; bottom: 8px; align-self: flex-end; width: auto; z-index: 20; }
  #sources-column { position: fixed !important; left: 0; right: 0; bottom: 0; height: 72vh; z-index: 900;
    overflow-y: auto; padding: 8px 10px 16px; background: var(--background-fill-primary);
    border-top: 2px solid var(--aa-accent); box-shadow: 0 -6px 24px rgba(0,0,0,.25); min-width: 0 !important;
    transform: translateY(105%); visibility: hidden; transition: transform .2s ease, visibility .2s; }
  #sources-column[data-open] { transform: none; visibility: visible; }
  #passages, #passages > div { max-height: none !important; }
  table.articles .col-chunks, table.articles .col-id { display: none; }
  table.articles .col-title { min-width: 0; }
}
"""

# The passages panel: a card, or an [n] marker in the chat (a link to #cite-<turn>-<n>), names the
# passage to open; the choice goes to Python as the panel's click event with {cite: "<turn>-<n>"}.
# The page-wide part (installed once): [n] clicks, hover/focus previews of [n], plain-text aria-labels
# for chat messages (the Chatbot puts its markdown source there), the phone drawer and Escape to close it.
PANEL_JS = r"""
const narrow = () => window.matchMedia('(max-width: 760px)').matches;
const pick = (key) => { if (key) trigger('click', {cite: key}); };
window.__articleAssistantPick = pick;
element.addEventListener('click', (e) => {
  const copy = e.target.closest('.copy-answer');
  if (copy) {
    const text = (element.querySelector('.copy-text') || {}).textContent || '';
    const label = copy.textContent;
    const done = () => { copy.textContent = 'Copied'; setTimeout(() => copy.textContent = label, 1500); };
    const fallback = () => { const t = document.createElement('textarea'); t.value = text; document.body.appendChild(t);
      t.select(); document.execCommand('copy'); t.remove(); done(); };
    window.__articleAssistantCopied = text;
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
    else fallback();
    return;
  }
  if (e.target.closest('a')) return;
  const card = e.target.closest('[data-cite]');
  if (card) pick(card.dataset.cite);
});
// Keep the chosen card in view inside the panel's own scroll box (not the page: the article view moves that).
watch('value', () => {
  const card = element.querySelector('.cite-card.selected');
  let box = card && card.parentElement;
  while (box && box !== document.body && !(box.scrollHeight > box.clientHeight + 1
         && /(auto|scroll)/.test(getComputedStyle(box).overflowY))) box = box.parentElement;
  if (!card || !box || box === document.body) return;
  const top = card.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
  if (top < box.scrollTop || top + card.offsetHeight > box.scrollTop + box.clientHeight) box.scrollTop = top - 8;
});
if (!window.__articleAssistantMarkers) {
  window.__articleAssistantMarkers = true;
  const column = () => document.querySelector('#sources-column');
  const open = () => { const c = column(); if (c) c.dataset.open = '1'; };
  const close = () => { const c = column(); if (c) delete c.dataset.open; };
  window.__articleAssistantDrawer = {open, close};
  document.addEventListener('click', (e) => {
    const link = e.target.closest ? e.target.closest('#chat a[href*="#cite-"]') : null;
    if (!link) return;
    e.preventDefault();
    e.stopPropagation();
    hide();
    if (narrow()) open();
    window.__articleAssistantPick(link.getAttribute('href').split('#cite-').pop());
  }, true);
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') { hide(); close(); } });
  // Previews of [n]: the link's title (title · source · date: sentence) as a tooltip on hover and focus.
  let tip = null;
  const hide = () => { if (tip) { tip.remove(); tip = null; } };
  const show = (link) => {
    const text = link.dataset.preview || link.getAttribute('title');
    if (!text) return;
    if (!link.dataset.preview) { link.dataset.preview = text; link.removeAttribute('title'); }
    hide();
    tip = document.createElement('div');
    tip.className = 'aa-preview'; tip.setAttribute('role', 'tooltip'); tip.id = 'aa-preview';
    tip.textContent = text;
    document.body.appendChild(tip);
    const r = link.getBoundingClientRect();
    const top = r.bottom + 6 + tip.offsetHeight > window.innerHeight ? r.top - tip.offsetHeight - 6 : r.bottom + 6;
    tip.style.top = Math.max(4, top) + 'px';
    tip.style.left = Math.max(4, Math.min(r.left, window.innerWidth - tip.offsetWidth - 4)) + 'px';
    link.setAttribute('aria-describedby', 'aa-preview');
  };
  const marker = (e) => e.target.closest ? e.target.closest('#chat a[href*="#cite-"]') : null;
  document.addEventListener('mouseover', (e) => { const m = marker(e); if (m && !narrow()) show(m); });
  document.addEventListener('mouseout', (e) => { if (marker(e)) hide(); });
  document.addEventListener('focusin', (e) => { const m = marker(e); if (m) show(m); else hide(); });
  // Screen readers read a message's aria-label: make it the message's text, not its markdown source.
  const relabel = () => {
    // Gradio's empty image box has an aria-label without a role (axe: aria-prohibited-attr).
    document.querySelectorAll('div.empty[aria-label]:not([role])').forEach((d) => d.setAttribute('role', 'img'));
    document.querySelectorAll('#chat [aria-label]').forEach((el) => {
      const label = el.getAttribute('aria-label') || '';
      if (!/[\[\]*#]|cite-/.test(label)) return;
      const text = (el.innerText || el.textContent || '').replace(/\s+/g, ' ').trim();
      if (text && text !== label) el.setAttribute('aria-label', (label.startsWith('user') ? 'You: ' :
        label.startsWith('bot') || label.startsWith('assistant') ? 'Assistant: ' : '') + text);
    });
    document.querySelectorAll('#chat a[href*="#cite-"][title]').forEach((a) => {
      a.dataset.preview = a.getAttribute('title'); a.removeAttribute('title');
      a.setAttribute('aria-label', 'source ' + a.textContent.replace(/[\[\]]/g, ''));
    });
  };
  new MutationObserver(relabel).observe(document.body, {subtree: true, childList: true, characterData: true,
                                                         attributes: true, attributeFilter: ['aria-label']});
  // A field with a validation error inside the closed options: open them so the error is seen; a refused
  // question goes back into its box.
  new MutationObserver(() => {
    const box = document.querySelector('#question textarea');
    if (box && !box.value && window.__articleAssistantSent
        && document.querySelector('#question .validation-error, #options .validation-error')) {
      box.value = window.__articleAssistantSent;
      window.__articleAssistantSent = null;
      box.dispatchEvent(new Event('input', {bubbles: true}));
    }
    const options = document.querySelector('#options');
    if (!options || !options.querySelector('.validation-error, [class*="validation"]')) return;
    const toggle = options.querySelector('button.label-wrap:not(.open), .label-wrap:not(.open)');
    if (toggle && !options.querySelector('.label-wrap.open')) toggle.click();
  }).observe(document.body, {subtree: true, childList: true});
}
"""

# Sending a question empties its box at once, in the page (a reply from the server emptying it could wipe a
# question typed meanwhile, so only the question sent is removed); if it is refused, the observer in PANEL_JS
# puts it back.
SEND_QUESTION_JS = r"""
(question, ...rest) => {
  const box = document.querySelector('#question textarea');
  if (box && typeof question === 'string' && question.trim() && box.value === question) {
    window.__articleAssistantSent = question;
    box.value = '';
    box.dispatchEvent(new Event('input', {bubbles: true}));
  }
  return [question, ...rest];
}
"""

# (Gradio scopes the app's CSS inside its container, so the drawer's state is an attribute of the column.)
OPEN_SOURCES_JS = "() => { document.querySelector('#sources-column').dataset.open = '1'; }"
CLOSE_SOURCES_JS = "() => { delete document.querySelector('#sources-column').dataset.open; }"

# The article view: after each new article, scroll its body to the first supporting sentence.
ARTICLE_JS = """
const reveal = () => {
  const body = element.querySelector('.article-body');
  const first = body && (body.querySelector('mark') || body.querySelector('.in-passage'));
  if (!first) return;
  body.scrollTop = Math.max(0, first.offsetTop - 24);
  if (!window.matchMedia('(max-width: 760px)').matches) element.scrollIntoView({block: 'nearest'});
};
watch('value', reveal);
"""

# Removal cannot be undone (short of ingesting the files again): ask first; a cancel says so.
CONFIRM_REMOVAL_JS = """
(ids, _) => (ids && ids.length) ? (confirm(`Remove ${ids.length} article(s) from the index?`) ? [ids, 'yes']
  : [ids, 'cancelled']) : [ids, 'yes']
"""
CONFIRM_DELETE_JS = """
(session, _) => [session, confirm('Delete this conversation? It cannot be restored.') ? 'yes' : 'cancelled']
"""
