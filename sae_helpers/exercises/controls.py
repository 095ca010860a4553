"""Notebook 05's exercises: a matched latent's selectivity, and its decoder direction's
alignment with the mixing."""

import numpy as np

from sae_helpers.exercises.cases import LECTURE, SWAPPED, latents_of, normal, random_cases, random_matching, unit_rows
from sae_helpers.exercises.engine import Exercise, Mistake
from sae_helpers.metrics import abs_corr, corr, decoder_alignment, match_latents, selectivity


def _random_matches(rng):
    description, latents, sources = random_matching(rng)
    return description, (latents, sources, match_latents(latents, sources))


def _random_alignment(rng):
    k, d, m = rng.integers(2, 5), rng.integers(2, 6), rng.integers(2, 10)
    return (f"{k} sources in {d} dimensions, {m} decoder directions",
            (rng.normal(size=(k, d)), rng.normal(size=(m, d)), rng.integers(0, m, size=k)))


# --- the mistakes ----------------------------------------------------------------------------------

def _own_minus_best(latents, sources, matches):
    r = abs_corr(latents, sources)[matches.latent]
    return np.diagonal(r) - r.max(axis=1)


def _signed(latents, sources, matches):
    r = corr(latents, sources)[matches.latent]
    return np.diagonal(r) - np.where(np.eye(len(r), dtype=bool), -np.inf, r).max(axis=1)


def _others(latents, sources, matches):
    """|r| of each matched latent with its own source, and with each other source (NaN there)."""
    r = abs_corr(latents, sources)[matches.latent]
    return np.diagonal(r), np.where(np.eye(len(r), dtype=bool), np.nan, r)


def _minus_summed_others(latents, sources, matches):
    own, others = _others(latents, sources, matches)
    return own - np.nansum(others, axis=1)


def _minus_mean_of_others(latents, sources, matches):
    own, others = _others(latents, sources, matches)
    return own - np.nanmean(others, axis=1)


def _top_two_gap(latents, sources, matches):
    """Each matched latent's largest |r| minus its second largest."""
    r = np.sort(abs_corr(latents, sources)[matches.latent], axis=1)
    return r[:, -1] - r[:, -2]


def _mixing_columns(mixing, directions, latent):
    return decoder_alignment(mixing.T, directions, latent)


def _decoder_not_unit(mixing, directions, latent):
    return np.abs(np.sum(unit_rows(mixing) * directions[latent], axis=1))


def _lengths_over_axis_0(mixing, directions, latent):
    chosen = directions[latent]
    return np.abs(np.sum(mixing / np.linalg.norm(mixing, axis=0) * chosen / np.linalg.norm(chosen, axis=0), axis=1))


def _best_of_all_directions(mixing, directions, latent):
    return np.abs(unit_rows(mixing) @ unit_rows(directions).T).max(axis=1)


def _dot_products(mixing, directions, latent):
    return np.abs(np.sum(mixing * directions[latent], axis=1))


def _signed_cosines(mixing, directions, latent):
    return np.sum(unit_rows(mixing) * unit_rows(directions[latent]), axis=1)


SELECTIVITY = Exercise(
    reference=selectivity,
    cases=tuple((label, (latents, sources, match_latents(latents, sources))) for label, latents, sources in [
        ("the lecture's sources, latents that follow them", latents_of(LECTURE.sources, 1), LECTURE.sources),
        ("3 sources, 2 of them copies", latents_of(SWAPPED, 3), SWAPPED),
        ("a latent that follows a source upside down", -LECTURE.sources @ np.eye(2, 4), LECTURE.sources),
        ("source 1's best latent follows source 2 more", LECTURE.sources @ np.array([[0.6, 0.0], [0.8, 1.0]]),
         LECTURE.sources)]),
    mistakes=(
        Mistake(_own_minus_best,
                "the best other source must leave out the matched source itself (you get 0 for a latent "
                "whose own source is its best)."),
        Mistake(_signed, "use |r| for both terms: a latent may follow a source upside down."),
        Mistake(_top_two_gap,
                "that is the gap between the latent's two largest |r|, which is positive even where its "
                "own source is not its best: subtract its best |r| with another source from its |r| with "
                "its own."),
        Mistake(_minus_summed_others, "subtract the largest |r| with another source, not the sum of them all."),
        Mistake(_minus_mean_of_others,
                "subtract the largest |r| with another source, not their mean: one strong rival is "
                "enough to make a latent unselective."),
    ),
    random_cases=random_cases(_random_matches),
)

ALIGNMENT = Exercise(
    reference=decoder_alignment,
    cases=(("the lecture's mixing, 4 decoder directions", (LECTURE.mixing, normal(4, 2, seed=1), np.array([2, 0]))),
           ("a decoder direction along a mixing row, reversed", (LECTURE.mixing, -3 * LECTURE.mixing[::-1],
                                                                 np.array([1, 0]))),
           ("3 sources in 3 dimensions", (normal(3, 3, seed=2), normal(5, 3, seed=3), np.array([4, 1, 1])))),
    mistakes=(
        Mistake(_mixing_columns,
                "a source's direction in data space is its row of the mixing matrix (data = sources @ mixing), "
                "not its column."),
        Mistake(_dot_products, "these are dot products, not cosines: divide both directions by their lengths."),
        Mistake(_signed_cosines, "take |cos|: a latent may write its source's direction with the opposite sign."),
        Mistake(_decoder_not_unit,
                "divide the decoder directions by their lengths too: a cosine is between two unit vectors."),
        Mistake(_lengths_over_axis_0,
                "each direction's length is the norm of its row, norm(axis=1); axis=0 gives the columns'."),
        Mistake(_best_of_all_directions,
                "use the matched latent's direction, directions[latent], not the best of all directions."),
    ),
    random_cases=random_cases(_random_alignment),
)
