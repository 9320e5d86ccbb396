# The survey files are those pinned in the config (the schema allows only these two).
RADON_FILES = list(config["radon_source"]["sha256"])


rule download_radon:
    output:
        "resources/radon/{radon_file}",
    log:
        "logs/radon/download/{radon_file}.log",
    benchmark:
        "benchmarks/radon/download/{radon_file}.tsv"
    wildcard_constraints:
        radon_file="|".join(map(re.escape, RADON_FILES)),
    conda:
        "../../environment.yml"
    params:
        url=get_radon_url,
        sha256=get_radon_sha256,
    script:
        "../scripts/download.py"


rule build_radon:
    input:
        srrs2="resources/radon/srrs2.dat",
        cty="resources/radon/cty.dat",
    output:
        "resources/radon/radon_mn.csv",
    log:
        "logs/radon/build_radon.log",
    benchmark:
        "benchmarks/radon/build_radon.tsv"
    conda:
        "../../environment.yml"
    script:
        "../scripts/build_radon.py"


rule build_radon_states:
    input:
        srrs2="resources/radon/srrs2.dat",
        cty="resources/radon/cty.dat",
    output:
        "resources/radon/radon_states.csv",
    log:
        "logs/radon/build_radon_states.log",
    benchmark:
        "benchmarks/radon/build_radon_states.tsv"
    conda:
        "../../environment.yml"
    script:
        "../scripts/build_radon_states.py"


# A held-out split of the Minnesota table (config/examples/radon_heldout.yaml): new homes
# in known counties and whole new counties, as Gelman (2006) cross-validates.
rule split_radon:
    input:
        "resources/radon/radon_mn.csv",
    output:
        training="resources/radon/radon_mn_training.csv",
        test="resources/radon/radon_mn_test.csv",
    log:
        "logs/radon/split_radon.log",
    benchmark:
        "benchmarks/radon/split_radon.tsv"
    conda:
        "../../environment.yml"
    params:
        seed=2006,
        share=0.2,
        counties=8,
    script:
        "../scripts/split_radon.py"
