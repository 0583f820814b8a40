"""Fusion (assistant/fuse.py): reciprocal rank fusion, merging hit lists, article-level fusion."""

from __future__ import annotations

import numpy as np

from assistant.fuse import article_rank_fusion, merge_hits, reciprocal_rank_fusion


def test_rrf_scores_are_reciprocal_ranks_and_weights_scale_them():
    fused = dict(reciprocal_rank_fusion([np.array([1, 2]), np.array([2])]))
    assert fused[2] > fused[1] > 0  # in both lists beats first in one
    heavy = dict(reciprocal_rank_fusion([np.array([1]), np.array([2])], weights=[3.0, 1.0]))
    assert heavy[1] == 3 * heavy[2]


def test_merge_hits_keeps_each_position_once_with_its_best_score():
    merged = merge_hits([(np.array([4, 2]), np.array([0.9, 0.1])), (np.array([2, 7]), np.array([0.95, 0.5]))])
    assert merged.tolist() == [2, 4, 7]


def test_article_fusion_with_one_list_keeps_its_order():
    article_of = np.array([0, 1, 1, 2])
    ranking = np.array([2, 0, 3, 1])
    assert [p for p, _ in article_rank_fusion([ranking], article_of)] == [2, 0, 3, 1]
