"""CSS, theme and the small scripts of the two HTML panels (Gradio 6 takes theme and css at launch)."""

from __future__ import annotations

import gradio as gr

# System fonts: the app works offline, so nothing is fetched from a font service.
THEME = gr.themes.Soft(font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
                       font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])

CSS = """
#app-header h2 { margin: 0; }
#app-header p { margin: 2px 0 0; opacity: .75; }
#chat .message, #chat .message * { overflow-wrap: anywhere; }
#chat a[href*="#cite-"] { text-decoration: none; font-weight: 600; font-size: .85em; vertical-align: super;
  padding: 0 2px; border-radius: 4px; background: var(--color-accent-soft); }
#passages .panel-head { display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; margin-bottom: 8px; }
#passages .panel-q { opacity: .7; font-size: .9em; overflow-wrap: anywhere; }
.panel-empty, .article-empty { opacity: .7; padding: 12px; border: 1px dashed var(--border-color-primary);
  border-radius: 8px; }
.cite-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px;
  margin-bottom: 10px; cursor: pointer; background: var(--background-fill-primary); }
.cite-card:hover, .cite-card:focus { border-color: var(--color-accent); outline: none; }
.cite-card.selected { border-color: var(--color-accent); box-shadow: 0 0 0 2px var(--color-accent-soft); }
.cite-card.closest { border-style: dashed; }
.cite-card .num { font-weight: 700; color: var(--color-accent); }
.cite-card .title, .article-title { font-weight: 600; overflow-wrap: anywhere; }
.meta { font-size: .85em; opacity: .8; margin: 2px 0 6px; overflow-wrap: anywhere; }
.meta .link.bad { text-decoration: line-through; }
.cite-card .also { font-size: .85em; opacity: .85; margin: -2px 0 6px; font-style: italic; overflow-wrap: anywhere; }
#search-all-dates { align-self: flex-start; width: auto; max-width: max-content; margin: 2px 0 4px 8px; }
#eval-report table { font-size: .9em; }
.passage-text, .article-body { white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.5; }
.passage-text { font-size: .92em; max-height: 16em; overflow: auto; }
mark.hl { background: #fde68a; color: #1f2937; border-radius: 2px; padding: 0 1px; }
.article { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px; }
.article-title { font-size: 1.05em; }
.article-body { position: relative; max-height: min(55vh, 440px); overflow: auto; padding-right: 6px; }
.article-body .in-passage { background: var(--color-accent-soft); }
#corpus-summary { opacity: .8; }
"""

# The passages panel: a card, or an [n] marker in the chat (a link to #cite-<turn>-<n>), names the
# passage to open; the choice goes to Python as the panel's click event with {cite: "<turn>-<n>"}.
PANEL_JS = """
const pick = (key) => { if (key) trigger('click', {cite: key}); };
window.__articleAssistantPick = pick;
element.addEventListener('click', (e) => {
  if (e.target.closest('a')) return;
  const card = e.target.closest('[data-cite]');
  if (card) pick(card.dataset.cite);
});
element.addEventListener('keydown', (e) => {
  if (e.key !== 'Enter' && e.key !== ' ') return;
  const card = e.target.closest('[data-cite]');
  if (card) { e.preventDefault(); pick(card.dataset.cite); }
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
  document.addEventListener('click', (e) => {
    const link = e.target.closest ? e.target.closest('#chat a[href*="#cite-"]') : null;
    if (!link) return;
    e.preventDefault();
    e.stopPropagation();
    window.__articleAssistantPick(link.getAttribute('href').split('#cite-').pop());
  }, true);
}
"""

# The article view: after each new article, scroll its body to the first supporting sentence.
ARTICLE_JS = """
const reveal = () => {
  const body = element.querySelector('.article-body');
  const first = body && (body.querySelector('mark') || body.querySelector('.in-passage'));
  if (!first) return;
  body.scrollTop = Math.max(0, first.offsetTop - 24);
  element.scrollIntoView({block: 'nearest'});
};
watch('value', reveal);
"""

# Removal cannot be undone (short of ingesting the files again): ask first; cancelling removes nothing.
CONFIRM_REMOVAL_JS = """
(ids) => (ids && ids.length && confirm(`Remove ${ids.length} article(s) from the index?`)) ? ids : []
"""
