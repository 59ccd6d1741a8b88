"""The 2016 paper's 20 Newsgroups experiments on a CNN, beside an exactly explained BoW SVM."""
