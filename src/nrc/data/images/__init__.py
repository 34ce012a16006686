"""The image regression sets (paper §4.2, App. A.2): the rendered MuJoCo sets (`rendered`), the
CARLA and UTKFace readers (`carla`, `utkface`), pixel transforms (`transforms`) and the regression
view that `nrc.data.load` serves (`dataset`)."""
