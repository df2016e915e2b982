"""qtrain's Kubeflow Pipelines package: ``qtrain_kfp.components`` and ``qtrain_kfp.pipelines``.

In the repository they are the top-level ``components/`` and ``pipelines/`` folders (linked
here for development); the wheel installs them under this one namespaced package, so no
generic top-level name lands in site-packages. Importing them needs the ``kfp`` extra;
``qtrain`` itself imports this package only in the CLI's Kubeflow commands.
"""
