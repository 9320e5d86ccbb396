"""The works the generated methods text can cite: how the Markdown names each one
(author-year) and its BibTeX entry, so references.bib holds exactly what the text cites.
Entries follow each project's own citation request (NumPyro's and JAX's READMEs,
ArviZ's CITATION, Snakemake's docs) or the published article; JAX's @software is a
@misc here, which every BibTeX style knows."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    key: str
    text: str  # as Markdown cites it, inside parentheses
    bibtex: str  # the whole BibTeX entry


REFERENCES = {ref.key: ref for ref in (
    Reference("hoffman2014nuts", "Hoffman and Gelman 2014", """@article{hoffman2014nuts,
  author = {Hoffman, Matthew D. and Gelman, Andrew},
  title = {The {No-U-Turn} Sampler: Adaptively Setting Path Lengths in {Hamiltonian} {Monte} {Carlo}},
  journal = {Journal of Machine Learning Research},
  volume = {15},
  number = {47},
  pages = {1593--1623},
  year = {2014},
  url = {https://jmlr.org/papers/v15/hoffman14a.html}
}"""),
    Reference("phan2019numpyro", "Phan et al. 2019", """@article{phan2019numpyro,
  author = {Phan, Du and Pradhan, Neeraj and Jankowiak, Martin},
  title = {Composable Effects for Flexible and Accelerated Probabilistic Programming in {NumPyro}},
  journal = {arXiv preprint arXiv:1912.11554},
  year = {2019}
}"""),
    Reference("bradbury2018jax", "Bradbury et al. 2018", """@misc{bradbury2018jax,
  author = {Bradbury, James and Frostig, Roy and Hawkins, Peter and Johnson, Matthew James and
    Katariya, Yash and Leary, Chris and Maclaurin, Dougal and Necula, George and Paszke, Adam and
    Vander{P}las, Jake and Wanderman-{M}ilne, Skye and Zhang, Qiao},
  title = {{JAX}: composable transformations of {P}ython+{N}um{P}y programs},
  url = {http://github.com/jax-ml/jax},
  year = {2018}
}"""),
    Reference("papaspiliopoulos2007noncentered", "Papaspiliopoulos et al. 2007",
              """@article{papaspiliopoulos2007noncentered,
  author = {Papaspiliopoulos, Omiros and Roberts, Gareth O. and Sk{\\"o}ld, Martin},
  title = {A General Framework for the Parametrization of Hierarchical Models},
  journal = {Statistical Science},
  volume = {22},
  number = {1},
  pages = {59--73},
  year = {2007},
  doi = {10.1214/088342307000000014}
}"""),
    Reference("lewandowski2009lkj", "Lewandowski et al. 2009", """@article{lewandowski2009lkj,
  author = {Lewandowski, Daniel and Kurowicka, Dorota and Joe, Harry},
  title = {Generating random correlation matrices based on vines and extended onion method},
  journal = {Journal of Multivariate Analysis},
  volume = {100},
  number = {9},
  pages = {1989--2001},
  year = {2009},
  doi = {10.1016/j.jmva.2009.04.008}
}"""),
    Reference("kumar2019arviz", "Kumar et al. 2019", """@article{kumar2019arviz,
  author = {Kumar, Ravin and Carroll, Colin and Hartikainen, Ari and Martin, Osvaldo},
  title = {{ArviZ} a unified library for exploratory analysis of {Bayesian} models in {Python}},
  journal = {Journal of Open Source Software},
  volume = {4},
  number = {33},
  pages = {1143},
  year = {2019},
  doi = {10.21105/joss.01143}
}"""),
    Reference("vehtari2021rhat", "Vehtari et al. 2021", """@article{vehtari2021rhat,
  author = {Vehtari, Aki and Gelman, Andrew and Simpson, Daniel and Carpenter, Bob and B{\\"u}rkner, Paul-Christian},
  title = {Rank-Normalization, Folding, and Localization: An Improved {$\\widehat{R}$}
    for Assessing Convergence of {MCMC} (with Discussion)},
  journal = {Bayesian Analysis},
  volume = {16},
  number = {2},
  pages = {667--718},
  year = {2021},
  doi = {10.1214/20-BA1221}
}"""),
    Reference("betancourt2016ebfmi", "Betancourt 2016", """@article{betancourt2016ebfmi,
  author = {Betancourt, Michael},
  title = {Diagnosing Suboptimal Cotangent Disintegrations in {Hamiltonian} {Monte} {Carlo}},
  journal = {arXiv preprint arXiv:1604.00695},
  year = {2016}
}"""),
    Reference("vehtari2017loo", "Vehtari et al. 2017", """@article{vehtari2017loo,
  author = {Vehtari, Aki and Gelman, Andrew and Gabry, Jonah},
  title = {Practical {Bayesian} model evaluation using leave-one-out cross-validation and {WAIC}},
  journal = {Statistics and Computing},
  volume = {27},
  number = {5},
  pages = {1413--1432},
  year = {2017},
  doi = {10.1007/s11222-016-9696-4}
}"""),
    Reference("vehtari2024psis", "Vehtari et al. 2024", """@article{vehtari2024psis,
  author = {Vehtari, Aki and Simpson, Daniel and Gelman, Andrew and Yao, Yuling and Gabry, Jonah},
  title = {{Pareto} Smoothed Importance Sampling},
  journal = {Journal of Machine Learning Research},
  volume = {25},
  number = {72},
  pages = {1--58},
  year = {2024}
}"""),
    Reference("talts2018sbc", "Talts et al. 2018", """@article{talts2018sbc,
  author = {Talts, Sean and Betancourt, Michael and Simpson, Daniel and Vehtari, Aki and Gelman, Andrew},
  title = {Validating {Bayesian} Inference Algorithms with Simulation-Based Calibration},
  journal = {arXiv preprint arXiv:1804.06788},
  year = {2018}
}"""),
    Reference("molder2021snakemake", "Mölder et al. 2021", """@article{molder2021snakemake,
  author = {M{\\"o}lder, Felix and Jablonski, Kim Philipp and Letcher, Brice and Hall, Michael B. and
    Tomkins-Tinch, Christopher H. and Sochat, Vanessa and Forster, Jan and Lee, Soohyun and
    Twardziok, Sven O. and Kanitz, Alexander and Wilm, Andreas and Holtgrewe, Manuel and Rahmann, Sven and
    Nahnsen, Sven and K{\\"o}ster, Johannes},
  title = {Sustainable data analysis with {Snakemake}},
  journal = {F1000Research},
  volume = {10},
  pages = {33},
  year = {2021},
  doi = {10.12688/f1000research.29032.2}
}"""),
)}


def bibtex(keys):
    """references.bib for the cited `keys`, in the order given (first citation first)."""
    return "\n\n".join(REFERENCES[key].bibtex for key in keys) + "\n"
