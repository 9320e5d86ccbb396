from pooling.logs import logged

with logged(snakemake.log[0]):
    from pooling.paper import write_bundle

    write_bundle(
        dataset=snakemake.wildcards.dataset,
        fit_paths=snakemake.input.fits,
        diagnostic_paths=snakemake.input.diagnostics,
        loo_csv=snakemake.input.loo,
        logo_csv=snakemake.input.logo,
        source_csv=snakemake.input.source,
        prepared_csv=snakemake.input.data,
        figure_pdfs=snakemake.input.figures,
        out={name: snakemake.output[name] for name in snakemake.output.keys()},
        settings=snakemake.params.settings,
        config=snakemake.config,
        snakemake_version=snakemake.params.snakemake_version,
        workflow_dir=snakemake.scriptdir,
        test_scores_csv=snakemake.input.test_scores or None,
        test_csvs=list(snakemake.input.test_data) or None,
        sbc={"config": snakemake.params.sbc, "summaries": list(snakemake.input.sbc)},
    )
