"""Notebook 04's exercises: each source's best latent (the lecture's rule), and the one-to-one
matching."""

import numpy as np
from scipy.optimize import linear_sum_assignment

from sae_helpers.exercises.cases import LECTURE, SWAPPED, latents_of, normal, random_cases, random_matching
from sae_helpers.exercises.engine import Exercise, Mistake
from sae_helpers.metrics import abs_corr, corr, match_latents


def best_latents(latents, sources):
    """The lecture's rule: for each source, the latent with the highest |r| (n_sources,)."""
    return match_latents(latents, sources).latent


def one_to_one_latents(latents, sources):
    """Distinct latents, one per source, with the largest summed |r| (n_sources,)."""
    return match_latents(latents, sources, one_to_one=True).latent


def _contested(sources, seed):
    """Latents (n, 3) for 2 sources: the second source faintly in noise; one latent that follows
    both (the best |r| for each); the first source in noise. The one-to-one answer gives the first
    source latent 2 and the second latent 1; a greedy one gives the first latent 1, the second 0."""
    rng = np.random.default_rng(seed)
    z = (sources - sources.mean(axis=0)) / sources.std(axis=0)
    return np.column_stack([rng.normal(size=len(z)) + 0.3 * z[:, 1], z[:, 0] + 0.9 * z[:, 1],
                            z[:, 0] + 1.2 * rng.normal(size=len(z))])


def _moderate_pair(sources, seed):
    """Latents (n, 2) whose |r| with the 2 sources are [[0.495, 0.25], [0.698, 0.501]] (to within
    the sources' own small correlation): summed |r| gives source 1 latent 0 and source 2 latent 1
    (0.996 against 0.948), summed r² the other way round (0.496 against 0.550)."""
    z = (sources - sources.mean(axis=0)) / sources.std(axis=0)
    noise = normal(len(z), 2, seed=seed)
    noise -= z @ np.linalg.lstsq(z, noise, rcond=None)[0]  # at right angles to both sources
    noise, _ = np.linalg.qr(noise - noise.mean(axis=0))
    noise *= np.sqrt(len(z))
    return np.column_stack([0.495 * z[:, 0] + 0.25 * z[:, 1] + np.sqrt(1 - 0.495**2 - 0.25**2) * noise[:, 0],
                            0.698 * z[:, 0] + 0.501 * z[:, 1] + np.sqrt(1 - 0.698**2 - 0.501**2) * noise[:, 1]])


# --- the mistakes ----------------------------------------------------------------------------------

def _signed_best(latents, sources):
    return corr(latents, sources).argmax(axis=0)


def _each_latents_best_source(latents, sources):
    return abs_corr(latents, sources).argmax(axis=1)


def _by_covariance(latents, sources):
    return np.abs((latents - latents.mean(0)).T @ (sources - sources.mean(0))).argmax(0)


def _smallest(latents, sources):
    return abs_corr(latents, sources).argmin(axis=0)


def _corrcoef_nan(latents, sources):
    n_latents = latents.shape[1]
    with np.errstate(all="ignore"):
        return np.abs(np.corrcoef(latents.T, sources.T)[:n_latents, n_latents:]).argmax(axis=0)


def _lectures_rule(latents, sources):
    return abs_corr(latents, sources).argmax(axis=0)


def _assignment_rows(latents, sources):
    return linear_sum_assignment(abs_corr(latents, sources), maximize=True)[0]


def _summed_r_squared(latents, sources):
    return linear_sum_assignment(abs_corr(latents, sources).T ** 2, maximize=True)[1]


def _minimised(latents, sources):
    return linear_sum_assignment(abs_corr(latents, sources).T)[1]


def _signed_assignment(latents, sources):
    return linear_sum_assignment(corr(latents, sources).T, maximize=True)[1]


def _greedy_latents(latents, sources):
    """Each source in turn takes its best latent not yet taken."""
    r, taken = abs_corr(latents, sources), []
    for source in range(r.shape[1]):
        taken.append(max((i for i in range(len(r)) if i not in taken), key=lambda i: r[i, source]))
    return np.array(taken)


def _random_latents_and_sources(rng):
    description, latents, sources = random_matching(rng)
    return description, (latents, sources)


_NOISE = normal(len(LECTURE.sources), seed=12)

BEST_LATENTS = Exercise(
    reference=best_latents,
    cases=(("the lecture's sources, latents that follow them", (latents_of(LECTURE.sources, 1), LECTURE.sources)),
           ("a latent that follows a source upside down", (-LECTURE.sources @ np.eye(2, 4), LECTURE.sources)),
           ("3 sources, 2 of them copies", (latents_of(SWAPPED, 3), SWAPPED))),
    mistakes=(
        Mistake(_signed_best, "use |r|: a latent that follows its source upside down (r = −1) follows it as well."),
        Mistake(_each_latents_best_source,
                "you took each latent's best source; the task asks for each source's best latent."),
        Mistake(_by_covariance, "that compares covariances, which grow with a latent's scale: use the correlation r."),
        Mistake(_corrcoef_nan,
                "np.corrcoef gives NaN for a latent that never changes (a dead one), and argmax picks the "
                "NaN: use sae_helpers.metrics.abs_corr, which gives such a latent 0."),
        Mistake(_smallest, "argmin picks the smallest |r|: the best latent has the largest (argmax)."),
    ),
    random_cases=random_cases(_random_latents_and_sources),
)

ONE_TO_ONE_LATENTS = Exercise(
    reference=one_to_one_latents,
    cases=(("the lecture's sources, latents that follow them", (latents_of(LECTURE.sources, 1), LECTURE.sources)),
           ("3 sources, 2 of them copies", (latents_of(SWAPPED, 3), SWAPPED)),
           ("latents in the opposite order to the sources",
            (np.column_stack([_NOISE, LECTURE.sources[:, 1], LECTURE.sources[:, 0]]), LECTURE.sources)),
           ("a latent that follows the first source upside down",
            (np.column_stack([-LECTURE.sources[:, 0], LECTURE.sources[:, 1], _NOISE]), LECTURE.sources)),
           ("one latent best for both sources", (_contested(LECTURE.sources, 11), LECTURE.sources)),
           ("two moderate matches against one strong and one weak", (_moderate_pair(LECTURE.sources, 13),
                                                                      LECTURE.sources))),
    mistakes=(
        Mistake(_lectures_rule,
                "two sources claimed the same latent: that is the lecture's rule; assign distinct latents "
                "(scipy.optimize.linear_sum_assignment)."),
        Mistake(_assignment_rows,
                "on the (latents × sources) matrix, linear_sum_assignment returns (latents, sources) pairs "
                "with the latents in increasing order: you need the latent of each source in source order "
                "(transpose the matrix, or sort the pairs by source)."),
        Mistake(_summed_r_squared,
                "maximise the sum of |r|, not of r²: squares favour one strong match over two moderate ones."),
        Mistake(_minimised, "linear_sum_assignment minimises by default: pass maximize=True to get the largest |r|."),
        Mistake(_signed_assignment,
                "use |r|: a latent that follows its source upside down (r = −1) follows it as well."),
        Mistake(_greedy_latents,
                "a greedy choice (each source in turn, or the largest |r| first, takes its best free latent) "
                "can block a better assignment: here the latent both sources like best goes to the first, "
                "and the second is left with noise. Maximise the total with linear_sum_assignment."),
    ),
    random_cases=random_cases(_random_latents_and_sources),
)
