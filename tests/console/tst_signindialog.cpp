// SignInDialog: Sign in only with a user and a password, the password not
// shown, the reason for asking (again) shown, and it renders.

#include "signindialog.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTest>

class TestSignInDialog : public QObject
{
    Q_OBJECT

    static QPushButton *signIn(SignInDialog &d) { return d.findChild<QDialogButtonBox *>()->button(QDialogButtonBox::Ok); }

private Q_SLOTS:
    void signInNeedsBoth_data()
    {
        QTest::addColumn<QString>("user");
        QTest::addColumn<QString>("password");
        QTest::addColumn<bool>("enabled");
        QTest::newRow("neither") << QString() << QString() << false;
        QTest::newRow("user only") << "alice" << QString() << false;
        QTest::newRow("password only") << QString() << "pw" << false;
        QTest::newRow("both") << "alice" << "pw" << true;
    }

    void signInNeedsBoth()
    {
        QFETCH(QString, user);
        QFETCH(QString, password);
        QFETCH(bool, enabled);
        SignInDialog d(QStringLiteral("parse.example.org"));
        const QList<QLineEdit *> fields = d.findChildren<QLineEdit *>();
        QCOMPARE(fields.size(), 2);
        QLineEdit *passwordField = fields.at(0)->echoMode() == QLineEdit::Password ? fields.at(0) : fields.at(1);
        QLineEdit *userField = passwordField == fields.at(0) ? fields.at(1) : fields.at(0);
        QCOMPARE(passwordField->echoMode(), QLineEdit::Password);
        QTest::keyClicks(userField, user);
        QTest::keyClicks(passwordField, password);
        QCOMPARE(signIn(d)->isEnabled(), enabled);
        QCOMPARE(d.username(), user);
        QCOMPARE(d.password(), password);
        QVERIFY(d.remember()); // kept in the keyring unless told not to
    }

    void showsWhyAndRenders()
    {
        SignInDialog d(QStringLiteral("127.0.0.1"));
        d.setUsername(QStringLiteral("alice"));
        d.setMessage(QStringLiteral("alice was refused: signing in: Invalid username/password."));
        d.show();
        QVERIFY(QTest::qWaitForWindowExposed(&d));
        bool shown = false;
        for (QLabel *l : d.findChildren<QLabel *>())
            shown = shown || (l->isVisible() && l->text().contains(QStringLiteral("was refused")));
        QVERIFY(shown);
        const QImage image = d.grab().toImage();
        QVERIFY(image.width() >= 380);
        QVERIFY(image.save(QStringLiteral(MEMBATCH_TEST_OUTPUT_DIR "/signindialog.png")));
    }
};

QTEST_MAIN(TestSignInDialog)
#include "tst_signindialog.moc"
